/** The CLI's loopback callback: real sockets on 127.0.0.1, a fake "browser" that is just an HTTP request. */
import { describe, expect, it } from 'vitest';
import { loopbackAuthorizer, loopbackRedirectUrl } from '../../lib/mcp/index.js';

describe('loopbackAuthorizer', () => {
  it('prints the URL without $BROWSER, ignores a callback with the wrong state, and resolves with the right one', async () => {
    const lines: string[] = [];
    const redirectUrl = await loopbackRedirectUrl();
    const authorize = loopbackAuthorizer({ write: (l) => lines.push(l), timeoutMs: 20_000 });
    const code = authorize(new URL('https://as.example/authorize?client_id=c&state=s1'), redirectUrl, 's1');
    await expect.poll(() => lines.join('')).toContain('https://as.example/authorize?client_id=c&state=s1');
    const forged = await fetch(`${redirectUrl}?code=evil&state=other`);
    expect(forged.status).toBe(400);
    const ok = await fetch(`${redirectUrl}?code=good-code&state=s1`);
    expect(ok.status).toBe(200);
    await expect(code).resolves.toBe('good-code');
    await expect(fetch(redirectUrl)).rejects.toThrow(); // the listener is gone
  });

  it('rejects with the authorization server\'s error', async () => {
    const redirectUrl = await loopbackRedirectUrl();
    const authorize = loopbackAuthorizer({ write: () => {}, timeoutMs: 20_000 });
    const code = authorize(new URL('https://as.example/authorize'), redirectUrl, 's2');
    code.catch(() => {});
    await expect.poll(async () => (await fetch(`${redirectUrl}?error=access_denied&error_description=no&state=s2`).catch(() => undefined))?.status).toBe(400);
    await expect(code).rejects.toThrow('the authorization server refused the login: access_denied (no)');
  });
});
