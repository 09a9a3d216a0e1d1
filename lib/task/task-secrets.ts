/**
 * Task secrets: a task names credentials its account already holds (the encrypted credentials of its MCP
 * connections) and the hosts each may reach; its sandbox gets them masked. The service checks the names at
 * submit; the runtime reads the values when the run starts. Every message here names variables, connections and
 * fields, never a value.
 */
import { DeepAgentError } from '../errors/index.js';
import type { Redactor } from '../secrets/index.js';
import type { TaskRecord, TaskSecret } from './schema.js';

/** The names of an account's stored credentials, enough to check a submission (the AWS API may not decrypt). */
export interface AccountCredentialFields {
  /** The credential field names of the account's connection `connectionId`; undefined when the account has no such connection. */
  credentialFields(accountId: string, connectionId: string): Promise<readonly string[] | undefined>;
}

/** The account's stored credentials, decrypted (SQLite + AES-GCM locally, S3 + KMS envelope on AWS). */
export interface AccountCredentials extends AccountCredentialFields {
  /** The credential of the account's connection `connectionId`, field by field; undefined when there is none. */
  credentialValues(accountId: string, connectionId: string): Promise<Record<string, unknown> | undefined>;
}

/** What a task secret becomes for its sandbox (the shape of the sandbox's masked credentials). */
export interface ResolvedTaskSecret {
  name: string;
  value: string;
  hosts: string[];
  header?: string;
}

/** Shorter values are not redacted (they would mangle ordinary text), so they are refused. */
const MIN_SECRET_LENGTH = 8;

const where = (s: TaskSecret, i: number) => `secrets.${i} (${s.env})`;

/** The field a secret takes from a connection that holds `fields`, or why it cannot. */
function pickField(s: TaskSecret, i: number, fields: readonly string[] | undefined, make: (m: string) => DeepAgentError): string {
  if (!fields) throw make(`${where(s, i)}: this account has no MCP connection ${s.connection} (GET /mcp-connections lists its connections)`);
  if (fields.length === 0) {
    throw make(`${where(s, i)}: MCP connection ${s.connection} holds no stored credential (a remote connection's OAuth login is not offered as a task secret)`);
  }
  if (s.field === undefined) {
    if (fields.length === 1) return fields[0]!;
    throw make(`${where(s, i)}: MCP connection ${s.connection} holds ${fields.join(', ')}: name one with "field"`);
  }
  if (!fields.includes(s.field)) throw make(`${where(s, i)}: MCP connection ${s.connection} has no credential field ${s.field}; it has ${fields.join(', ')}`);
  return s.field;
}

/**
 * Checks at submit that the account holds every credential a task names; throws `invalid_input` (400) naming the
 * first one it does not. Another account's connection is simply not found.
 *
 * @example
 * await checkTaskSecrets('acct-1', [{ env: 'GITHUB_TOKEN', connection: id, hosts: ['github.com'] }], manager);
 */
export async function checkTaskSecrets(accountId: string, secrets: readonly TaskSecret[], source: AccountCredentialFields | undefined): Promise<void> {
  if (secrets.length === 0) return;
  if (!source) throw new DeepAgentError('invalid_input', 'invalid task: secrets: this runtime holds no account credentials (task secrets need the MCP connection manager)');
  for (const [i, s] of secrets.entries()) {
    pickField(s, i, await source.credentialFields(accountId, s.connection), (m) => new DeepAgentError('invalid_input', `invalid task: ${m}`));
  }
}

/**
 * Reads the values of a task's secrets from its account's credentials when the run starts, and teaches each to
 * the run's redactor before anything can be written. A credential that is gone (or changed shape) since the
 * submit is a non-retryable `invalid_input`: the task fails once, with the reason, and is not retried.
 *
 * @example
 * runTask({ ..., taskSecrets: (record) => resolveTaskSecrets(record, manager, redactor) });
 */
export async function resolveTaskSecrets(record: Pick<TaskRecord, 'accountId' | 'secrets'>, source: AccountCredentials, redactor?: Redactor): Promise<ResolvedTaskSecret[]> {
  const accountId = record.accountId ?? '';
  const gone = (m: string) => DeepAgentError.nonRetryable('invalid_input', `task secret ${m}`);
  // Each connection is read (and, on AWS, decrypted) once, however many secrets take fields of it.
  const fields = new Map<string, Promise<readonly string[] | undefined>>();
  const values = new Map<string, Promise<Record<string, unknown> | undefined>>();
  const once = <T>(cache: Map<string, Promise<T>>, connection: string, read: () => Promise<T>) => {
    if (!cache.has(connection)) cache.set(connection, read());
    return cache.get(connection)!;
  };
  const out: ResolvedTaskSecret[] = [];
  for (const [i, s] of (record.secrets ?? []).entries()) {
    const field = pickField(s, i, await once(fields, s.connection, () => source.credentialFields(accountId, s.connection)), gone);
    const value = (await once(values, s.connection, () => source.credentialValues(accountId, s.connection)))?.[field];
    if (typeof value !== 'string' || value === '') throw gone(`${where(s, i)}: MCP connection ${s.connection} has no value for ${field} any more`);
    if (value.length < MIN_SECRET_LENGTH) throw gone(`${where(s, i)}: the value of ${field} is shorter than ${MIN_SECRET_LENGTH} characters, too short to keep out of logs`);
    redactor?.add(value);
    out.push({ name: s.env, value, hosts: [...s.hosts], ...(s.header ? { header: s.header } : {}) });
  }
  return out;
}
