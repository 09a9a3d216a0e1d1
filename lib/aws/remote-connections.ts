/**
 * The deployed agent's remote (OAuth) connections: for one task, the account's logged-in remote connections
 * join a hub of their own with the account's tokens, decrypted here (the agent function may Decrypt) and
 * refreshed without a person (before expiry and on a 401); a refreshed token is sealed back into the bucket.
 * A connection whose login is gone (a revoked refresh token) is recorded `needs_login` and left out.
 */
import { connectionLoginHint, remoteServerSpec, type McpServerDefinition } from '../mcp-connections/index.js';
import { McpHub, OAuthRecords, type HttpServerSpec } from '../mcp/index.js';
import type { Redactor } from '../secrets/index.js';
import type { Tool } from '../tools/index.js';
import { errorLine } from './connection-server.js';
import type { AwsConnection, S3ConnectionStore } from './connection-store.js';
import { S3OAuthTokenStore, type S3OAuthDeps } from './oauth-store.js';

export interface RemoteConnectionsDeps extends S3OAuthDeps {
  store: S3ConnectionStore;
  catalog: McpServerDefinition[];
  redactor: Redactor;
  /** @default 30_000 */
  connectTimeoutMs?: number;
}

/**
 * @example
 * const remote = await attachRemoteConnections({ s3, bucket, envelope, store, catalog, redactor }, record.accountId);
 * runTask({ ..., tools: [...tools, ...remote.tools] }); await remote.close();
 */
export async function attachRemoteConnections(
  deps: RemoteConnectionsDeps,
  accountId: string,
): Promise<{ tools: Tool[]; attached: string[]; unavailable: { name: string; error: string }[]; close(): Promise<void> }> {
  const remote: Array<{ record: AwsConnection; spec: HttpServerSpec }> = [];
  const waiting: { name: string; error: string }[] = [];
  for (const record of await deps.store.list(accountId)) {
    if (record.accountId !== accountId) continue;
    // Known to wait for a person: the model is told how to log in, no request is made.
    if (record.status === 'needs_login') waiting.push({ name: record.name, error: loginHint(record.id) });
    if (record.status !== 'running') continue;
    const definition = deps.catalog.find((d) => d.id === record.definitionId);
    const spec = definition && remoteServerSpec(definition);
    if (spec) remote.push({ record, spec });
  }
  if (remote.length === 0) return { tools: [], attached: [], unavailable: waiting, close: async () => {} };
  // The hub names servers by connection name; their records are the connection ids'.
  const idOf = new Map(remote.map(({ record }) => [record.name, record.id]));
  const tokens = new S3OAuthTokenStore(deps, (_account, server) => idOf.get(server) ?? server);
  const unavailable: { name: string; error: string }[] = [...waiting];
  const servers: Record<string, HttpServerSpec> = {};
  for (const { record, spec } of remote) {
    try {
      await tokens.load(accountId, record.name);
      servers[record.name] = spec;
    } catch (e) {
      unavailable.push({ name: record.name, error: deps.redactor.redactString(errorLine(e)) });
    }
  }
  const hub = new McpHub({ servers, oauth: { records: new OAuthRecords(tokens, accountId) }, redactor: deps.redactor, connectTimeoutMs: deps.connectTimeoutMs ?? 30_000 });
  const statuses = await hub.start();
  for (const s of statuses) {
    if (s.state === 'connected') continue;
    unavailable.push({ name: s.name, error: s.state === 'needs_login' ? loginHint(idOf.get(s.name)!) : (s.reason ?? s.state) });
    if (s.state === 'needs_login') await markNeedsLogin(deps.store, accountId, idOf.get(s.name)!);
  }
  await tokens.flush().catch(() => {}); // a refresh during connect
  return {
    tools: hub.tools(),
    attached: statuses.filter((s) => s.state === 'connected').map((s) => s.name),
    unavailable,
    close: async () => {
      await hub.close();
      await tokens.flush();
    },
  };
}

async function markNeedsLogin(store: S3ConnectionStore, accountId: string, id: string): Promise<void> {
  const got = await store.get(accountId, id);
  if (!got) return;
  await store.update({ ...got.record, status: 'needs_login', lastError: loginHint(id) }, got.etag);
}

const loginHint = (id: string) => `needs a login: ${connectionLoginHint(id)}`;
