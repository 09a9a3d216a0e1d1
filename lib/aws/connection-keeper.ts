/**
 * The connection keeper (its own Lambda, on an EventBridge schedule, and invoked by the API after an install
 * or a delete): for each live connection it reattaches to its E2B sandbox, extends the sandbox's lifetime,
 * health-checks the server (`tools/list` of a fresh server process), restarts a failed one once in a new
 * sandbox, and records status, tools and the last error; then it kills every connection sandbox whose
 * connection was deleted (found from E2B's own list by the `purpose`/`connectionId` metadata).
 *
 * Also here: what the agent function attaches for one task, the account's running connections.
 */
import { DeepAgentError } from '../errors/index.js';
import { sandboxTaskId, type McpServerDefinition } from '../mcp-connections/index.js';
import type { Sandbox } from '../sandbox/index.js';
import { Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
import type { CredentialEnvelope } from './connection-envelope.js';
import { connectionTools, errorLine, startConnectionServer, type ConnectionServer, type ConnectionServerRuntime } from './connection-server.js';
import type { AwsConnection, S3ConnectionStore } from './connection-store.js';
import type { SweeperSandboxApi } from './sandbox-sweeper.js';

/** The metadata `purpose` of a connection's sandbox (the task sweeper leaves these to the keeper). */
export const CONNECTION_SANDBOX_PURPOSE = 'mcp-connection';

/** The sandbox calls the keeper and the agent make (the E2B provider, with its keep-alive timer off). */
export interface ConnectionSandboxes {
  create(options: { taskId: string; timeoutSeconds?: number; metadata?: Record<string, string> }): Promise<Sandbox>;
  connect(sandboxId: string, options: { taskId: string }): Promise<Sandbox>;
  killSandbox(sandboxId: string): Promise<boolean>;
}

export interface ConnectionKeeperDeps {
  store: S3ConnectionStore;
  envelope: CredentialEnvelope;
  catalog: McpServerDefinition[];
  sandboxes: ConnectionSandboxes;
  /**
   * Sandboxes of definitions with `network: true`, with the internet always on. With per-command network,
   * reattaching to a sandbox turns its internet off, which would cut a server another task is using.
   * @default `sandboxes`
   */
  networkSandboxes?: ConnectionSandboxes;
  /** E2B's sandbox list (the sweeper's slice of the SDK) and its key, to find sandboxes of deleted connections. */
  listing: { api: SweeperSandboxApi; apiKey: string };
  runtime: ConnectionServerRuntime;
  /** @default 30_000 */
  healthTimeoutMs?: number;
  now?: () => Date;
}

export interface KeeperResult {
  checked: number;
  healthy: string[];
  started: string[];
  restarted: string[];
  failed: string[];
  /** Sandboxes killed because their connection no longer exists (or was moved to a new sandbox). */
  killed: { sandboxId: string; connectionId: string }[];
}

/** The keeper function's input: nothing (the schedule) or one connection to act on now. */
export function keeperTarget(event: unknown): { accountId: string; connectionId: string } | undefined {
  const e = event as { accountId?: unknown; connectionId?: unknown } | undefined;
  return typeof e?.accountId === 'string' && typeof e.connectionId === 'string' && e.connectionId.length <= 64 && e.accountId.length <= 128
    ? { accountId: e.accountId, connectionId: e.connectionId }
    : undefined;
}

async function credentialsOf(deps: Pick<ConnectionKeeperDeps, 'store' | 'envelope'>, record: AwsConnection): Promise<Record<string, unknown>> {
  if (record.credentialFields.length === 0) return {};
  const sealed = await deps.store.sealedCredentials(record.accountId, record.id);
  if (!sealed) throw new DeepAgentError('not_found', `the credentials of MCP connection ${record.id} are missing`);
  return deps.envelope.open({ accountId: record.accountId, connectionId: record.id }, sealed);
}

/** Starts the server once in `sandbox` and stops it: the health check. Returns the tool names. */
async function check(deps: ConnectionKeeperDeps, sandbox: Sandbox, definition: McpServerDefinition, credentials: Record<string, unknown>): Promise<string[]> {
  const server = await startConnectionServer(sandbox, definition, credentials, { runtime: deps.runtime, timeoutMs: deps.healthTimeoutMs ?? 30_000 });
  try {
    return server.tools.map((t) => t.name);
  } finally {
    await server.close();
  }
}

/** The sandboxes a definition's server runs in (internet always on when it needs the network). */
const sandboxesFor = (deps: Pick<ConnectionKeeperDeps, 'sandboxes' | 'networkSandboxes'>, definition: McpServerDefinition): ConnectionSandboxes =>
  (definition.network && deps.networkSandboxes) || deps.sandboxes;

async function newSandbox(deps: ConnectionKeeperDeps, record: AwsConnection, definition: McpServerDefinition): Promise<Sandbox> {
  return sandboxesFor(deps, definition).create({
    taskId: sandboxTaskId(record.id),
    timeoutSeconds: definition.defaultTimeoutSeconds,
    metadata: { purpose: CONNECTION_SANDBOX_PURPOSE, accountId: record.accountId, connectionId: record.id },
  });
}

/** One connection: extend + check its sandbox, or start it, or restart it once; returns what happened and the new record. */
async function keepOne(deps: ConnectionKeeperDeps, record: AwsConnection, result: KeeperResult): Promise<AwsConnection> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  const definition = deps.catalog.find((d) => d.id === record.definitionId);
  if (!definition) return { ...record, status: 'failed', lastHealthAt: now, lastError: `the definition "${record.definitionId}" is no longer in the catalog` };
  let credentials: Record<string, unknown>;
  try {
    credentials = await credentialsOf(deps, record);
  } catch (e) {
    return { ...record, status: 'failed', lastHealthAt: now, lastError: errorLine(e) };
  }
  let failure: string | undefined;
  if (record.sandboxId) {
    try {
      const sandbox = await sandboxesFor(deps, definition).connect(record.sandboxId, { taskId: sandboxTaskId(record.id) });
      await sandbox.extendLifetime?.();
      const tools = await check(deps, sandbox, definition, credentials);
      result.healthy.push(record.id);
      const { lastError: _cleared, ...rest } = record;
      return { ...rest, status: 'running', tools, lastHealthAt: now };
    } catch (e) {
      failure = `health check failed: ${errorLine(e)}`;
    }
  }
  // A pending connection starts here; a running one that failed its check is restarted once, in a new sandbox.
  const restarting = record.status === 'running';
  if (record.sandboxId) await deps.sandboxes.killSandbox(record.sandboxId).catch(() => false);
  let sandbox: Sandbox | undefined;
  try {
    sandbox = await newSandbox(deps, record, definition);
    const tools = await check(deps, sandbox, definition, credentials);
    (restarting ? result.restarted : result.started).push(record.id);
    const { lastError: _cleared, ...rest } = record;
    return {
      ...rest,
      status: 'running',
      tools,
      sandboxId: sandbox.id,
      lastHealthAt: now,
      ...(restarting ? { restartedAt: now, lastError: `restarted after: ${failure ?? 'the sandbox was gone'}` } : {}),
    };
  } catch (e) {
    if (sandbox) await deps.sandboxes.killSandbox(sandbox.id).catch(() => false);
    result.failed.push(record.id);
    const { sandboxId: _gone, ...rest } = record;
    return { ...rest, status: 'failed', lastHealthAt: now, lastError: `${restarting ? 'restart' : 'start'} failed: ${errorLine(e)}${failure ? ` (after ${failure})` : ''}` };
  }
}

/**
 * One keeper round over every account's connections (or one connection), then the sweep of deleted ones.
 * A failed connection stays failed (its one restart is used) until it is removed and installed again.
 *
 * @example
 * const result = await keepConnections(deps);                    // the schedule
 * await keepConnections(deps, { accountId, connectionId });      // after an install or a delete
 */
export async function keepConnections(deps: ConnectionKeeperDeps, only?: { accountId: string; connectionId: string }): Promise<KeeperResult> {
  const result: KeeperResult = { checked: 0, healthy: [], started: [], restarted: [], failed: [], killed: [] };
  const records = only ? [(await deps.store.get(only.accountId, only.connectionId))?.record].filter((r) => r !== undefined) : await deps.store.listAll();
  for (const record of records) {
    if (record.status !== 'pending' && record.status !== 'running') continue;
    result.checked++;
    const next = await keepOne(deps, record, result);
    const current = await deps.store.get(record.accountId, record.id);
    // Deleted (or changed) while we worked: the new sandbox is not wanted; the sweep below also finds it.
    if (!current || !(await deps.store.update(next, current.etag))) {
      if (next.sandboxId && next.sandboxId !== record.sandboxId) await deps.sandboxes.killSandbox(next.sandboxId).catch(() => false);
    }
  }
  const metadata: Record<string, string> = { purpose: CONNECTION_SANDBOX_PURPOSE, ...(only ? { connectionId: only.connectionId } : {}) };
  const pages = deps.listing.api.list({ apiKey: deps.listing.apiKey, limit: 100, query: { metadata } });
  while (pages.hasNext) {
    for (const s of await pages.nextItems()) {
      const { accountId, connectionId } = s.metadata ?? {};
      if (s.metadata?.purpose !== CONNECTION_SANDBOX_PURPOSE || !accountId || !connectionId) continue;
      const current = (await deps.store.get(accountId, connectionId))?.record;
      if (current?.sandboxId === s.sandboxId) continue;
      // A pending record has no sandbox yet; one being started right now is spared until it is recorded.
      if (current && current.status === 'pending') continue;
      if (await deps.sandboxes.killSandbox(s.sandboxId).catch(() => false)) result.killed.push({ sandboxId: s.sandboxId, connectionId });
    }
  }
  return result;
}

export interface AccountConnections {
  tools: Tool[];
  /** The connections attached, by name (for `task.started`). */
  attached: string[];
  /** Connections that were running but could not be attached, with why. */
  unavailable: { name: string; error: string }[];
  /** Stops the server processes (the sandboxes are the connections': they stay). */
  close(): Promise<void>;
}

/**
 * Starts, for one task, a server process in each of the account's running connection sandboxes and returns
 * their tools as `mcp__<name>__<tool>`. Only `accountId`'s records are read, so no other account's (or the
 * operator's) credentials can reach the task. The credentials are decrypted here, in the agent function.
 *
 * @example
 * const connections = await attachAccountConnections(deps, record.accountId);
 * const agent = await assembleAgent(config, { tools: connections.tools });
 */
export async function attachAccountConnections(
  deps: Pick<ConnectionKeeperDeps, 'store' | 'envelope' | 'catalog' | 'sandboxes' | 'networkSandboxes' | 'runtime' | 'healthTimeoutMs'> & { redactor: Redactor },
  accountId: string,
): Promise<AccountConnections> {
  const started: Array<{ name: string; server: ConnectionServer; sandbox: Sandbox }> = [];
  const unavailable: AccountConnections['unavailable'] = [];
  for (const record of await deps.store.list(accountId)) {
    if (record.status !== 'running' || !record.sandboxId || record.accountId !== accountId) continue;
    try {
      const definition = deps.catalog.find((d) => d.id === record.definitionId);
      if (!definition) throw new DeepAgentError('not_found', `no definition "${record.definitionId}"`);
      const credentials = await credentialsOf(deps, record);
      for (const v of Object.values(credentials)) if (typeof v === 'string') deps.redactor.add(v);
      const sandbox = await sandboxesFor(deps, definition).connect(record.sandboxId, { taskId: sandboxTaskId(record.id) });
      const server = await startConnectionServer(sandbox, definition, credentials, {
        runtime: deps.runtime,
        timeoutMs: deps.healthTimeoutMs ?? 30_000,
        redactor: deps.redactor,
      });
      started.push({ name: record.name, server, sandbox });
    } catch (e) {
      unavailable.push({ name: record.name, error: deps.redactor.redactString(errorLine(e)) });
    }
  }
  return {
    tools: connectionTools(started, { redactor: deps.redactor }),
    attached: started.map((s) => s.name),
    unavailable,
    close: async () => {
      await Promise.all(started.map((s) => s.server.close()));
    },
  };
}
