/**
 * E2B's control-plane HTTP API in front of a {@link FakeE2B}, for code that reaches E2B through the real
 * `e2b` SDK (a synthesized Lambda bundle) rather than an injected double: `GET /v2/sandboxes` (metadata
 * filter, `limit`, `x-next-token` paging) and `DELETE /sandboxes/{id}`, both requiring `X-API-KEY`. Point the
 * SDK at it with `E2B_API_URL`. Commands and files (envd) are not served: the sweeper never needs them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeE2B } from './fake-e2b.js';

export interface FakeE2BControlPlane {
  url: string;
  /** API keys seen, in order (to check the right key was read from the secret). */
  apiKeys: string[];
  close(): Promise<void>;
}

/**
 * @example
 * const api = await serveE2BControlPlane(fake);
 * process.env.E2B_API_URL = api.url;
 */
export async function serveE2BControlPlane(fake: FakeE2B): Promise<FakeE2BControlPlane> {
  const apiKeys: string[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-e2b');
    const key = req.headers['x-api-key'];
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (typeof key !== 'string' || !key) return send(401, { code: 401, message: 'Invalid API key' });
    apiKeys.push(key);
    if (req.method === 'GET' && url.pathname === '/v2/sandboxes') {
      const metadata = Object.fromEntries(new URLSearchParams(url.searchParams.get('metadata') ?? ''));
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const offset = Number(url.searchParams.get('nextToken') ?? 0);
      const live = [...fake.sandboxes.values()].filter(
        (s) => s.state !== 'killed' && s.endAt.getTime() > Date.now() && Object.entries(metadata).every(([k, v]) => s.metadata[k] === v),
      );
      const page = live.slice(offset, offset + limit);
      const next: Record<string, string> = offset + limit < live.length ? { 'x-next-token': String(offset + limit) } : {};
      return send(
        200,
        page.map((s) => ({
          sandboxID: s.id,
          templateID: s.template,
          clientID: 'fake',
          metadata: s.metadata,
          startedAt: s.startedAt.toISOString(),
          endAt: s.endAt.toISOString(),
          state: s.state,
          cpuCount: 2,
          memoryMB: 512,
          diskSizeMB: 1024,
          envdVersion: '0.2.0',
        })),
        next,
      );
    }
    const kill = /^\/sandboxes\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && kill) {
      const killed = await fake.Sandbox.kill(decodeURIComponent(kill[1]!), { apiKey: key });
      return killed ? send(204) : send(404, { code: 404, message: 'sandbox not found' });
    }
    send(404, { code: 404, message: `${req.method} ${url.pathname} is not served by the fake` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    apiKeys,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
