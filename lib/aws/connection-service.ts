/**
 * The MCP connection manager on AWS behind the same routes as `serve` (`GET /mcp-server-definitions`,
 * `POST /mcp-connections/install`, `GET /mcp-connections`, `DELETE /mcp-connections/{id}`), in the API
 * function. It validates an install as the local manager does, seals the credentials under the stack's KMS key
 * (it may generate data keys, never decrypt), records the connection `pending`, and asks the keeper to start
 * it; the keeper, which holds the E2B key and may decrypt, starts the server in its own sandbox.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeepAgentError } from '../errors/index.js';
import { catalogFromDocument, connectionLoginHint, credentialEnv, InstallBodySchema, loadCatalog, remoteServerSpec, type McpServerDefinition } from '../mcp-connections/index.js';
import type { HttpServerSpec } from '../mcp/index.js';
import type { AccountCredentialFields, McpConnectionBackend } from '../task/index.js';
import type { CredentialEnvelope } from './connection-envelope.js';
import type { AwsConnection, S3ConnectionStore } from './connection-store.js';
import { isNoSuchKey, type S3Sender } from './s3-task-store.js';

/** Where the operator's catalog lives in the stack's bucket, unless MCP_CATALOG_KEY says otherwise. */
export const DEFAULT_CATALOG_KEY = 'config/mcp-catalog.json';

/**
 * The built-in definitions plus the operator's catalog object (`{ "definitions": [...] }`, validated as the
 * local DEEP_AGENT_MCP_CATALOG file is); just the built-ins when the object does not exist.
 *
 * @example
 * const catalog = await loadS3Catalog(s3, aws.taskBucket, aws.mcpCatalogKey ?? DEFAULT_CATALOG_KEY);
 */
export async function loadS3Catalog(s3: S3Sender, bucket: string, key: string): Promise<McpServerDefinition[]> {
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = await out.Body!.transformToString();
  } catch (e) {
    if (isNoSuchKey(e)) return loadCatalog();
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DeepAgentError('invalid_input', `s3://${bucket}/${key} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return catalogFromDocument(raw, `s3://${bucket}/${key}`);
}

export interface AwsMcpConnectionsDeps {
  store: S3ConnectionStore;
  envelope: CredentialEnvelope;
  /** Read per request, so a catalog uploaded to the bucket counts without a redeploy (cached by the caller). */
  catalog(): Promise<McpServerDefinition[]>;
  /** Asks the keeper to act on one connection now (start it, or kill its sandbox); best effort: its schedule catches up. */
  notifyKeeper?(target: { accountId: string; connectionId: string }): Promise<void>;
  newId?: () => string;
  now?: () => Date;
}

/**
 * @example
 * createApiHandler({ ..., mcpConnections: new AwsMcpConnections({ store, envelope, catalog, notifyKeeper }) });
 */
export class AwsMcpConnections implements McpConnectionBackend, AccountCredentialFields {
  constructor(private readonly deps: AwsMcpConnectionsDeps) {}

  async listDefinitions(_accountId: string): Promise<McpServerDefinition[]> {
    return this.deps.catalog();
  }

  async install(accountId: string, body: unknown): Promise<AwsConnection> {
    const parsed = InstallBodySchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DeepAgentError('invalid_input', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const { definitionId, credentials } = parsed.data;
    const catalog = await this.deps.catalog();
    const definition = catalog.find((d) => d.id === definitionId);
    if (!definition) throw new DeepAgentError('invalid_input', `no MCP server definition "${definitionId}"; known: ${catalog.map((d) => d.id).join(', ')}`);
    credentialEnv(definition, credentials);
    const id = this.deps.newId?.() ?? `mcpc_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
    const remote = definition.url !== undefined;
    const record: AwsConnection = {
      id,
      accountId,
      definitionId,
      name: parsed.data.name ?? definition.id,
      // A remote server has nothing for the keeper to start: it waits for the account's login.
      status: remote ? 'needs_login' : 'pending',
      tools: [],
      credentialFields: Object.keys(credentials).sort(),
      createdAt: (this.deps.now?.() ?? new Date()).toISOString(),
      ...(remote ? { lastError: `needs a login: ${connectionLoginHint(id)}` } : {}),
    };
    const sealed = Object.keys(credentials).length ? await this.deps.envelope.seal({ accountId, connectionId: id }, credentials) : undefined;
    await this.deps.store.create(record, sealed);
    if (!remote) await this.deps.notifyKeeper?.({ accountId, connectionId: id }).catch(() => {});
    return record;
  }

  /** The HTTP server of the account's remote connection `id` (for its OAuth login); undefined otherwise. */
  async remoteServer(accountId: string, id: string): Promise<HttpServerSpec | undefined> {
    const got = await this.deps.store.get(accountId, id);
    if (!got) return undefined;
    const definition = (await this.deps.catalog()).find((d) => d.id === got.record.definitionId);
    return definition ? remoteServerSpec(definition) : undefined;
  }

  /** Records a remote connection's login (or its loss): `running` or `needs_login`, with the reason. */
  async setLoginState(accountId: string, id: string, loggedIn: boolean): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const got = await this.deps.store.get(accountId, id);
      if (!got) return;
      const { lastError: _drop, ...rest } = got.record;
      const next: AwsConnection = loggedIn
        ? { ...rest, status: 'running', lastHealthAt: (this.deps.now?.() ?? new Date()).toISOString() }
        : { ...rest, status: 'needs_login', lastError: `needs a login: ${connectionLoginHint(id)}` };
      if (await this.deps.store.update(next, got.etag)) return;
    }
  }

  /** The credential field names of the account's connection `id`, for checking a task's `secrets` at submit (no value is read). */
  async credentialFields(accountId: string, id: string): Promise<readonly string[] | undefined> {
    return (await this.deps.store.get(accountId, id))?.record.credentialFields;
  }

  list(accountId: string): Promise<AwsConnection[]> {
    return this.deps.store.list(accountId);
  }

  /** Deletes the record, its sealed credentials and its name; the keeper kills the sandbox (now, when notified). */
  async remove(accountId: string, id: string): Promise<void> {
    const got = await this.deps.store.get(accountId, id);
    if (!got) throw new DeepAgentError('not_found', `MCP connection ${id} does not exist`);
    await this.deps.store.remove(got.record);
    await this.deps.notifyKeeper?.({ accountId, connectionId: id }).catch(() => {});
  }
}
