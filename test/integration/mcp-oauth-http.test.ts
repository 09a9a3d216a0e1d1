/**
 * HTTP logins: `POST /mcp-connections/{id}/oauth/start` answers the authorization URL (behind the bearer
 * token); the public `GET /oauth/callback` accepts a state once, for the account and server it was made
 * for, within its lifetime, and stores the tokens encrypted. Real OAuth-protected server, the app in memory.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerTokenAuth, createHttpApp } from '../../lib/http/index.js';
import { CredentialStore, loadSecretKey, openDatabase } from '../../lib/local/index.js';
import { HttpOAuthLogins, McpHub, OAuthRecords, type HttpServerSpec } from '../../lib/mcp/index.js';
import { MemoryTaskStore, TaskService } from '../../lib/task/index.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../helpers/oauth-mcp-server.js';

describe('MCP OAuth over HTTP (start + public callback)', () => {
  let remote: OAuthMcpServer;
  let credentials: CredentialStore;
  let now = 1_000_000_000_000;
  const logins: { account: string; server: string }[] = [];
  let app: ReturnType<typeof createHttpApp>;

  beforeAll(async () => {
    remote = await startOAuthMcpServer();
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-oauth-http-'));
    credentials = new CredentialStore(openDatabase(home), loadSecretKey({ home }));
    const spec: HttpServerSpec = { transport: 'http', url: remote.mcpUrl, headers: {} };
    const backend = new HttpOAuthLogins({
      store: credentials,
      resolve: (_account, name) => (name === 'remote' ? spec : undefined),
      onLogin: (account, server) => void logins.push({ account, server }),
      clock: () => now,
    });
    const alice = bearerTokenAuth('alice-token-123', 'alice');
    app = createHttpApp({
      service: new TaskService({ store: new MemoryTaskStore(), queue: { send: () => {} } }),
      authenticate: (req, env) => alice(req, env) ?? (req.headers.get('authorization') === 'Bearer bob-token-123' ? 'bob' : undefined),
      mcpOAuth: backend,
      publicUrl: 'https://api.example.test/prod',
    });
  });
  afterAll(async () => remote.close());

  const start = (token = 'alice-token-123', server = 'remote') =>
    app.request(`/mcp-connections/${server}/oauth/start`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  /** What the browser does: follow the authorization URL to the redirect, and answer it with the callback query. */
  const approve = async (authorizationUrl: string) => {
    const res = await fetch(authorizationUrl, { redirect: 'manual' });
    const back = new URL(res.headers.get('location')!);
    expect(back.origin + back.pathname).toBe('https://api.example.test/prod/oauth/callback');
    return back.pathname.replace('/prod', '') + back.search;
  };

  it('needs the bearer token to start, and answers 404 for an unknown server', async () => {
    expect((await app.request('/mcp-connections/remote/oauth/start', { method: 'POST' })).status).toBe(401);
    const res = await start('alice-token-123', 'nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'no HTTP MCP server "nope" to log in to' } });
  });

  it('logs in through the public callback once; the tokens are the account\'s, and a hub uses them', async () => {
    const res = await start();
    expect(res.status).toBe(200);
    const { authorizationUrl } = (await res.json()) as { authorizationUrl: string };
    const url = new URL(authorizationUrl);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(remote.mcpUrl);
    const callback = await approve(authorizationUrl);

    const done = await app.request(callback); // no Authorization header: the route is public
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ server: 'remote', status: 'connected', scopes: 'mcp:tools' });
    expect(logins).toEqual([{ account: 'alice', server: 'remote' }]);

    const again = await app.request(callback);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: { message: string } }).error.message).toMatch(/unknown, already used or expired/);

    const hub = new McpHub({ servers: { remote: { transport: 'http', url: remote.mcpUrl, headers: {} } }, oauth: { records: new OAuthRecords(credentials, 'alice') } });
    expect((await hub.start())[0]!.state).toBe('connected');
    await hub.close();
    const bobs = new McpHub({ servers: { remote: { transport: 'http', url: remote.mcpUrl, headers: {} } }, oauth: { records: new OAuthRecords(credentials, 'bob') } });
    expect((await bobs.start())[0]!.state).toBe('needs_login');
    await bobs.close();

    const logout = await app.request('/mcp-connections/remote/oauth', { method: 'DELETE', headers: { authorization: 'Bearer alice-token-123' } });
    expect(await logout.json()).toEqual({ server: 'remote', loggedOut: true });
    expect(new OAuthRecords(credentials, 'alice').get('remote')).toBeUndefined();
  });

  it('refuses an expired state, a forged one, and a callback without state', async () => {
    const { authorizationUrl } = (await (await start('bob-token-123')).json()) as { authorizationUrl: string };
    const callback = await approve(authorizationUrl);
    now += 11 * 60_000;
    const late = await app.request(callback);
    expect(late.status).toBe(400);
    expect((await app.request('/oauth/callback?state=forged&code=x')).status).toBe(400);
    const none = await app.request('/oauth/callback?code=x');
    expect(await none.json()).toEqual({ error: { code: 'invalid_input', message: 'the callback carries no state' } });
    expect(logins.filter((l) => l.account === 'bob')).toEqual([]);
  });
});
