/**
 * Serving the app on Node (`serve`). Kept apart from the app, and the adapter loaded on first use, so that the
 * API Lambda (which runs the app through `hono/aws-lambda`) never bundles a Node server.
 */
import { createServer, type Server } from 'node:http';
import type { Hono } from 'hono';

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/**
 * The answer to a request Node parsed but the app cannot represent as a `Request` (`OPTIONS *`, a bad Host
 * header, a backslash path): the adapter's default is an empty 400; this keeps the one error shape.
 *
 * @example
 * getRequestListener(app.fetch, { errorHandler: unparsableRequestResponse });
 */
export function unparsableRequestResponse(e: unknown): Response {
  // The adapter's RequestError, recognised by name (the adapter is loaded lazily).
  if ((e as { name?: unknown } | null)?.name === 'RequestError') {
    return Response.json(errorBody('invalid_input', `the request cannot be served: ${(e as Error).message}`), { status: 400 });
  }
  return Response.json(errorBody('internal', 'the service failed to handle the request'), { status: 500 });
}

/**
 * Serves the app on Node: like `@hono/node-server`'s `serve`, with every answer JSON in the error shape,
 * `OPTIONS *` included.
 *
 * @example
 * const server = await listenHttpApp(app, { port: 8787, hostname: '127.0.0.1' });
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function listenHttpApp(app: Hono<any>, options: { port: number; hostname: string }): Promise<Server> {
  const { getRequestListener } = await import('@hono/node-server');
  const server = createServer(getRequestListener(app.fetch, { hostname: options.hostname, errorHandler: unparsableRequestResponse }));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
