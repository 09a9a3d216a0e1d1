/** The HTTP API: one Hono app for `serve` and API Gateway, and a client for it. */
export { listenHttpApp, unparsableRequestResponse } from './listen.js';
export { createHttpApp, bearerTokenAuth, DEFAULT_BODY_LIMIT_BYTES, type HttpAppDeps } from './app.js';
export { ApiClient, sseData, type ApiClientOptions } from './client.js';
export { MAX_WAIT_SECONDS, type LiveEventOptions } from './live-events.js';
