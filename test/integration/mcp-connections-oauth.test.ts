/**
 * Remote (OAuth) MCP connections in `serve`, over real HTTP: a catalog definition with a `url` installs as a
 * connection that waits for a login (`needs_login`), is logged in through
 * `POST /mcp-connections/{connection id}/oauth/start` and the public callback, is attached to the account's
 * tasks, refreshes its token without a person, falls back to `needs_login` when the refresh token is
 * revoked, and takes its tokens with it when it is removed. The OAuth server is the local one in
 * test/helpers/oauth-mcp-server.ts; the wiring is serve's (localHttpOAuthLogins, withAccountConnections).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyLocalOAuth, localHttpOAuthLogins, withAccountConnections } from '../../lib/cli/oauth.js';
import { loadConfig } from '../../lib/config/index.js';
import { bearerTokenAuth, createHttpApp } from '../../lib/http/index.js';
import { CredentialStore, loadSecretKey, openDatabase, startLocalService, type LocalService } from '../../lib/local/index.js';
import { McpHub, oauthRecordKey } from '../../lib/mcp/index.js';
import { openLocalMcpConnections, type LocalMcpConnections, type McpConnection } from '../../lib/mcp-connections/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import type { TaskEvent } from '../../lib/task/index.js';
import { modelFor, serveApp } from '../helpers/factories.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../helpers/oauth-mcp-server.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'local-token-oauth-0123456789';
const OTHER_TOKEN = 'other-token-oauth-0123456789';

let home: string;
let remote: OAuthMcpServer;
let model: ScriptedModelServer;
let connections: LocalMcpConnections;
let oauth: ReturnType<typeof lazyLocalOAuth>;
let hub: McpHub;
let svc: LocalService;
let otherServer: ServerType;
let otherUrl: string;
const redactor = new Redactor();

const call = async (method: string, path: string, body?: unknown, token: string | null = TOKEN, base?: string) => {
  const res = await fetch(`${base ?? svc.url}${path}`, {
    method,
    redirect: 'manual',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, any> };
};
const connection = async (id: string) => ((await call('GET', '/mcp-connections')).body.connections as McpConnection[]).find((c) => c.id === id);
const events = async (id: string) => (await call('GET', `/tasks/${id}/events`)).body.events as TaskEvent[];
/** Every file under DEEP_AGENT_HOME (the .db, its -wal and -shm, workspaces), as text. */
const homeBytes = (dir = home): string =>
  readdirSync(dir)
    .map((f) => join(dir, f))
    .map((p) => (statSync(p).isDirectory() ? homeBytes(p) : readFileSync(p).toString('latin1')))
    .join('\n');
/** What the browser does: follow the authorization URL to the callback, and hand back the callback's path. */
const approve = async (authorizationUrl: string) => {
  const res = await fetch(authorizationUrl, { redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(`${svc.url}/oauth/callback`);
  return back.pathname + back.search;
};

beforeAll(async () => {
  remote = await startOAuthMcpServer();
  home = mkdtempSync(join(tmpdir(), 'mcp-conn-oauth-'));
  writeFileSync(join(home, 'catalog.json'), JSON.stringify({ definitions: [{ id: 'remote', title: 'A remote OAuth server', url: remote.mcpUrl }] }));
  // A .mcp.json HTTP server: its name keeps working in the same routes.
  writeFileSync(join(home, '.mcp.json'), JSON.stringify({ mcpServers: { legacy: { url: remote.mcpUrl } } }));
  // The model calls the connection's tool when it has it, and says what it had otherwise.
  model = await startScriptedModel((req) => {
    const results = [...lastToolResults(req).values()];
    if (results.length) return { text: `got: ${results[0]!.text}` };
    const tools = (req.body.tools ?? []).map((t: { name: string }) => t.name);
    return tools.includes('mcp__remote__echo') ? { toolUses: [{ name: 'mcp__remote__echo', input: { text: 'hello' } }] } : { text: 'no remote tool' };
  });
  const config = loadConfig({ DEEP_AGENT_HOME: home, ANTHROPIC_API_KEY: 'unused' }, home);
  connections = await openLocalMcpConnections({ home, catalogFile: join(home, 'catalog.json'), healthIntervalMs: 0, redactor });
  oauth = lazyLocalOAuth(config);
  hub = new McpHub({ redactor });
  const mcpOAuth = localHttpOAuthLogins(config, oauth.store, hub, redactor, connections.manager);
  svc = await startLocalService({
    home,
    token: TOKEN,
    model: await modelFor(model, { maxRetries: 0 }),
    sandboxProvider: new BubblewrapSandboxProvider({ home }),
    port: 0,
    pollIntervalMs: 20,
    schedulerIntervalMs: 0,
    redactor,
    taskOptions: (record) => withAccountConnections({}, connections.manager, record.accountId ?? 'local'),
    mcpConnections: connections.manager,
    mcpOAuth,
  });
  // A second account on the same manager and logins.
  const app = createHttpApp({ service: svc.service, authenticate: bearerTokenAuth(OTHER_TOKEN, 'other'), mcpConnections: connections.manager, mcpOAuth });
  ({ server: otherServer, url: otherUrl } = await serveApp(app));
}, 30_000);

afterAll(async () => {
  await new Promise((r) => otherServer?.close(r));
  await svc?.stop(0);
  await connections?.close();
  await hub?.close();
  oauth?.close();
  await model?.close();
  await remote?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('remote MCP connections with OAuth (serve)', () => {
  let id: string;

  it('refuses a definition that is both local and remote, or remote with credentials', async () => {
    const { McpServerDefinitionSchema } = await import('../../lib/mcp-connections/index.js');
    const both = McpServerDefinitionSchema.safeParse({ id: 'x', title: 'x', url: remote.mcpUrl, startCommand: { command: 'node' } });
    expect(both.success).toBe(false);
    const creds = McpServerDefinitionSchema.safeParse({ id: 'x', title: 'x', url: remote.mcpUrl, credentialSchema: { TOKEN: {} } });
    expect(creds.error?.issues[0]?.message).toMatch(/takes no credentialSchema: it logs in with OAuth/);
  });

  it('installs as needs_login, and a task of the account goes on without it, told how to log in', async () => {
    const res = await call('POST', '/mcp-connections/install', { definitionId: 'remote' });
    expect(res.status).toBe(201);
    id = res.body.id;
    expect(res.body).toMatchObject({ name: 'remote', status: 'needs_login', tools: [], lastError: `needs a login: POST /mcp-connections/${id}/oauth/start` });

    const task = await call('POST', '/tasks', { prompt: 'use the remote tool' });
    await until(() => call('GET', `/tasks/${task.body.taskId}`), (r) => r.body.status === 'succeeded');
    const started = (await events(task.body.taskId)).find((e) => e.type === 'task.started')!;
    expect((started as any).data.mcpServers).toContainEqual(expect.objectContaining({ name: 'remote', state: 'needs_login', login: `POST /mcp-connections/${id}/oauth/start` }));
    expect((await call('GET', `/tasks/${task.body.taskId}`)).body.result.text).toBe('no remote tool');
  });

  it("another account can neither start the connection's login nor see it", async () => {
    const res = await call('POST', `/mcp-connections/${id}/oauth/start`, undefined, OTHER_TOKEN, otherUrl);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe(`no HTTP MCP server "${id}" to log in to`);
    expect((await call('GET', '/mcp-connections', undefined, OTHER_TOKEN, otherUrl)).body.connections).toEqual([]);
  });

  it('logs in with the connection id through the public callback; the connection runs and a task calls its tool', async () => {
    expect((await call('POST', `/mcp-connections/${id}/oauth/start`, undefined, null)).status).toBe(401);
    const start = await call('POST', `/mcp-connections/${id}/oauth/start`);
    expect(start.status).toBe(200);
    const callback = await approve(start.body.authorizationUrl);
    const done = await call('GET', callback, undefined, null); // public: no bearer token
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ server: id, status: 'connected', scopes: 'mcp:tools' });
    expect((await call('GET', callback, undefined, null)).status).toBe(400); // single use
    expect(await connection(id)).toMatchObject({ status: 'running', tools: ['echo'] });

    const task = await call('POST', '/tasks', { prompt: 'use the remote tool' });
    const settled = await until(() => call('GET', `/tasks/${task.body.taskId}`), (r) => r.body.status === 'succeeded');
    expect(settled.body.result.text).toBe('got: echo: hello');
    expect(remote.calls).toContainEqual({ tool: 'echo', args: { text: 'hello' } });
  });

  it('keeps the tokens per account and connection, encrypted: no issued token anywhere under DEEP_AGENT_HOME or in any answer', async () => {
    const db = openDatabase(home);
    try {
      const store = new CredentialStore(db, loadSecretKey({ home }));
      expect(store.get('local', oauthRecordKey(id))).toMatchObject({ serverUrl: remote.mcpUrl, tokens: { token_type: 'Bearer' } });
      expect(store.get('other', oauthRecordKey(id))).toBeUndefined();
    } finally {
      db.close();
    }
    const bytes = homeBytes();
    expect(bytes.length).toBeGreaterThan(1000);
    const answers = JSON.stringify([(await call('GET', '/mcp-connections')).body, ...(await Promise.all(((await call('GET', '/tasks')).body.tasks ?? []).map((t: { taskId: string }) => events(t.taskId))))]);
    expect(remote.issued.length).toBeGreaterThanOrEqual(2);
    for (const t of remote.issued) {
      expect(bytes.includes(t), 'a token in DEEP_AGENT_HOME').toBe(false);
      expect(answers.includes(t), 'a token in an answer').toBe(false);
    }
  });

  it('refreshes an expired access token without a person, then goes needs_login when the refresh token is revoked', async () => {
    remote.expireAccessTokens();
    const before = remote.grants.filter((g) => g === 'refresh_token').length;
    const out = await connections.manager.callTool('local', id, 'echo', { text: 'after expiry' });
    expect(JSON.stringify(out)).toContain('echo: after expiry');
    expect(remote.grants.filter((g) => g === 'refresh_token').length).toBe(before + 1);

    remote.revokeRefreshTokens();
    remote.expireAccessTokens();
    await expect(connections.manager.callTool('local', id, 'echo', { text: 'x' })).rejects.toThrow(`needs a login: POST /mcp-connections/${id}/oauth/start`);
    expect(await connection(id)).toMatchObject({ status: 'needs_login' });
    expect(connections.manager.toolsFor('local').map((t) => t.name)).not.toContain('mcp__remote__echo');
  });

  it('a .mcp.json HTTP server name still starts a login in the same route', async () => {
    const start = await call('POST', '/mcp-connections/legacy/oauth/start');
    expect(start.status).toBe(200);
    expect(new URL(start.body.authorizationUrl).searchParams.get('resource')).toBe(remote.mcpUrl);
  });

  it('DELETE /mcp-connections/{id} deletes its tokens', async () => {
    // Log in again so there are live tokens to delete.
    const start = await call('POST', `/mcp-connections/${id}/oauth/start`);
    expect((await call('GET', await approve(start.body.authorizationUrl), undefined, null)).status).toBe(200);
    expect(await connection(id)).toMatchObject({ status: 'running' });
    expect((await call('DELETE', `/mcp-connections/${id}`)).status).toBeLessThan(300);
    const db = openDatabase(home);
    try {
      expect(new CredentialStore(db, loadSecretKey({ home })).get('local', oauthRecordKey(id))).toBeUndefined();
    } finally {
      db.close();
    }
    expect(await connection(id)).toBeUndefined();
    for (const t of remote.issued) expect(homeBytes().includes(t)).toBe(false);
  });
});
