/**
 * The CLI's way to get an authorization code: a one-shot HTTP listener on 127.0.0.1 (RFC 8252 loopback
 * redirect) and the authorization URL opened with `$BROWSER` when set, else printed.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeepAgentError } from '../../errors/index.js';
import type { InteractiveAuthorizer } from './provider.js';

export const CALLBACK_PATH = '/oauth/callback';

/**
 * A loopback redirect URI on a free port (or on `port`), for a client's registration.
 *
 * @example
 * const redirectUrl = await loopbackRedirectUrl(); // http://127.0.0.1:53123/oauth/callback
 */
export async function loopbackRedirectUrl(port?: number): Promise<string> {
  if (port) return `http://127.0.0.1:${port}${CALLBACK_PATH}`;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const free = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${free}${CALLBACK_PATH}`;
}

/** True when something else already listens on the redirect URI's port. */
export async function portTaken(redirectUrl: string): Promise<boolean> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(Number(new URL(redirectUrl).port), '127.0.0.1', resolve));
    return false;
  } catch {
    return true;
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/**
 * Runs `$BROWSER <url>` (a `%s` in it is replaced by the URL) without waiting for it, or prints the URL.
 *
 * @example
 * openAuthorizationUrl(url, io.env.BROWSER, (line) => io.stderr.write(line));
 */
export function openAuthorizationUrl(url: URL, browser: string | undefined, write: (line: string) => void): void {
  const href = url.toString();
  if (!browser?.trim()) {
    write(`Open this URL in a browser to log in:\n  ${href}\n`);
    return;
  }
  const parts = browser.trim().split(/\s+/);
  const args = parts.slice(1).some((a) => a.includes('%s')) ? parts.slice(1).map((a) => a.replaceAll('%s', href)) : [...parts.slice(1), href];
  write(`Opening the authorization page with ${parts[0]} (if nothing opens, visit ${url.origin}${url.pathname}...)\n`);
  const child = spawn(parts[0]!, args, { stdio: 'ignore', detached: true });
  child.on('error', () => write(`Could not start $BROWSER (${parts[0]}); open this URL to log in:\n  ${href}\n`));
  child.unref();
}

export interface LoopbackAuthorizerOptions {
  browser?: string;
  write: (line: string) => void;
  /** How long to wait for the browser to come back. @default 300_000 */
  timeoutMs?: number;
}

/**
 * An `InteractiveAuthorizer` for a terminal: listens on the redirect URI, opens the URL, and resolves with
 * the code once the browser returns with the expected `state`.
 *
 * @example
 * const authorizer = loopbackAuthorizer({ browser: io.env.BROWSER, write: (s) => io.stderr.write(s) });
 */
export function loopbackAuthorizer(options: LoopbackAuthorizerOptions): InteractiveAuthorizer {
  return async (authorizationUrl, redirectUrl, state) => {
    const target = new URL(redirectUrl);
    let server: Server | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        server = createServer((req, res) => {
          const url = new URL(req.url ?? '/', redirectUrl);
          if (url.pathname !== target.pathname) {
            res.writeHead(404).end();
            return;
          }
          const done = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(text);
          if (url.searchParams.get('state') !== state) {
            done(400, 'This login link is stale or was not started here. Run the login command again.\n');
            return;
          }
          const error = url.searchParams.get('error');
          if (error) {
            done(400, `The authorization server refused the login: ${error}\n`);
            reject(new DeepAgentError('unauthorized', `the authorization server refused the login: ${error}${url.searchParams.get('error_description') ? ` (${url.searchParams.get('error_description')})` : ''}`));
            return;
          }
          const code = url.searchParams.get('code');
          if (!code) {
            done(400, 'The callback carried no authorization code.\n');
            return;
          }
          done(200, 'Logged in. You can close this window and return to the terminal.\n');
          resolve(code);
        });
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(new DeepAgentError('unavailable', `cannot listen for the OAuth callback on ${target.host} (${e.code ?? e.message}); free the port or set "oauth": { "callbackPort": N }`)),
        );
        server.listen(Number(target.port), '127.0.0.1', () => openAuthorizationUrl(authorizationUrl, options.browser, options.write));
        timer = setTimeout(() => reject(new DeepAgentError('unauthorized', 'no answer from the browser in time; run the login command again')), options.timeoutMs ?? 300_000);
        timer.unref?.();
      });
    } finally {
      if (timer) clearTimeout(timer);
      const s = server as Server | undefined;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    }
  };
}
