/**
 * The hub's side of remote-server logins, with a real OAuth-protected server, and its refusal of
 * elicitation and sampling requests (a clear JSON-RPC error at once, never a hang).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialStore, loadSecretKey, openDatabase } from '../../lib/local/index.js';
import { loginMcpServer, McpHub, OAuthRecords, type InteractiveAuthorizer } from '../../lib/mcp/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../helpers/oauth-mcp-server.js';

const ASKING_SERVER = fileURLToPath(new URL('../helpers/mcp-asking-server.ts', import.meta.url));

/** Follows the auto-approving authorization redirect as a browser would, and returns the code. */
const followRedirect: InteractiveAuthorizer = async (url, _redirectUrl, state) => {
  const res = await fetch(url, { redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe(state);
  return back.searchParams.get('code')!;
};

describe('McpHub and OAuth (local OAuth-protected server)', () => {
  let remote: OAuthMcpServer;
  let credentials: CredentialStore;
  let records: OAuthRecords;
  beforeAll(async () => {
    remote = await startOAuthMcpServer();
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-oauth-hub-'));
    credentials = new CredentialStore(openDatabase(home), loadSecretKey({ home }));
    records = new OAuthRecords(credentials, 'acct-1');
  });
  afterAll(async () => remote.close());

  it('is needs_login (with the command) before a login, and connected with the stored tokens after', async () => {
    const spec = { transport: 'http' as const, url: remote.mcpUrl, headers: {} };
    const before = new McpHub({ servers: { remote: spec }, oauth: { records } });
    const [status] = await before.start();
    await before.close();
    expect(status).toMatchObject({ name: 'remote', state: 'needs_login', login: 'deep-agent mcp login remote' });
    expect(remote.grants).toEqual([]); // no registration nor token request without a person

    const redactor = new Redactor();
    const result = await loginMcpServer({ server: 'remote', spec, records, authorizer: followRedirect, redactor });
    expect(result).toEqual({ loggedIn: true, scopes: 'mcp:tools', toolCount: 1 });
    const [access, refresh] = remote.issued;
    expect(redactor.redactString(`a ${access} r ${refresh}`)).toBe('a [REDACTED] r [REDACTED]');

    const hubRedactor = new Redactor();
    const hub = new McpHub({ servers: { remote: spec }, oauth: { records }, redactor: hubRedactor });
    expect((await hub.start())[0]!.state).toBe('connected');
    expect(await hub.callTool('remote', 'echo', { text: 'hi' })).toEqual({ content: [{ type: 'text', text: 'echo: hi' }] });
    expect(hubRedactor.redactString(String(access))).toBe('[REDACTED]'); // the run's redactor learnt the token
    await hub.close();
    // Tokens belong to an account: another account has no login.
    const other = new McpHub({ servers: { remote: spec }, oauth: { records: new OAuthRecords(credentials, 'acct-2') } });
    expect((await other.start())[0]!.state).toBe('needs_login');
    await other.close();
  });

  it('leaves a server with its own Authorization header alone (static headers, no OAuth)', async () => {
    const hub = new McpHub({ servers: { remote: { transport: 'http', url: remote.mcpUrl, headers: { Authorization: 'Bearer static-not-valid-token' } } }, oauth: { records } });
    const [status] = await hub.start();
    await hub.close();
    expect(status!.state).toBe('failed');
  });

  it('refuses elicitation and sampling requests with a clear JSON-RPC error, at once', async () => {
    const hub = new McpHub({ servers: { asking: { transport: 'stdio', command: process.execPath, args: ['--import', 'tsx', ASKING_SERVER], env: {} } } });
    await hub.start();
    try {
      const started = Date.now();
      const out = await hub.callTool('asking', 'ask', {});
      const answer = JSON.parse((out.content[0] as { text: string }).text);
      expect(answer).toEqual({
        elicitation: { refused: { code: -32601, message: expect.stringContaining('does not answer elicitation requests') } },
        sampling: { refused: { code: -32601, message: expect.stringContaining('does not answer sampling requests') } },
      });
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await hub.close();
    }
  });
});
