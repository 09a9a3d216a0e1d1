/**
 * The one HTTP app (DESIGN section 3), built from injected dependencies only: the same app runs in `serve`
 * (Node) and behind API Gateway (`hono/aws-lambda`).
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import type { McpConnectionBackend, TaskService } from '../task/index.js';
import type { McpOAuthBackend } from '../mcp/index.js';
import { mountOAuthCallback, mountOAuthStart } from './oauth-routes.js';
import { serveDashboard } from './dashboard.js';
import { MAX_WAIT_SECONDS, streamTaskEvents, waitForEvents, type LiveEventOptions } from './live-events.js';

/** 256 KB: prompts are at most 100,000 characters, and nothing else in a body is large. */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;

export interface HttpAppDeps {
  service: TaskService;
  /**
   * The caller's account id, or undefined to answer 401. Receives the request and the runtime's bindings
   * (`c.env`: on Lambda, `{ event, lambdaContext }`, where an authorizer's context lives).
   */
  authenticate(request: Request, env: unknown): Promise<string | undefined> | string | undefined;
  /** The MCP connection manager; its routes answer 501 without it. */
  mcpConnections?: McpConnectionBackend;
  /** OAuth logins of remote MCP servers; their routes answer 501 without it. */
  mcpOAuth?: McpOAuthBackend;
  /** The URL the API is reached at, for the OAuth redirect URI. @default the request's origin */
  publicUrl?: string;
  /** @default 256 KB */
  bodyLimitBytes?: number;
  /** Live events: SSE streaming (serve), the in-process notifier and poll intervals. @default long-poll only */
  liveEvents?: LiveEventOptions;
  /** Serve the web dashboard at `/` (public static files; the API behind it still needs the token). @default true */
  dashboard?: boolean;
  /** Called with errors that become a 5xx (ours, not the caller's). */
  onError?(error: unknown): void;
}

const STATUS: Record<string, ContentfulStatusCode> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  not_implemented: 501,
};

type Env = { Variables: { accountId: string } };

const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** Reads a JSON body, or throws `invalid_input` (after the size limit has run). */
async function jsonBody(c: Context, required = true): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') {
    if (!required) return {};
    throw new DeepAgentError('invalid_input', 'the request body must be a JSON object');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new DeepAgentError('invalid_input', 'the request body is not valid JSON');
  }
}

/**
 * Builds the app. Every route needs `Authorization: Bearer ...`; every error is
 * `{ "error": { "code", "message" } }`, 4xx for the caller's mistakes (oversize bodies included: 400), 5xx for ours.
 *
 * @example
 * const app = createHttpApp({ service, authenticate: (req) => (req.headers.get('authorization') === `Bearer ${token}` ? 'local' : undefined) });
 * serve({ fetch: app.fetch, port: 8787, hostname: '127.0.0.1' });
 */
export function createHttpApp(deps: HttpAppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const { service } = deps;
  const maxSize = deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const live = deps.liveEvents ?? {};

  app.onError((e, c) => {
    const info = toErrorInfo(e);
    const status = STATUS[info.code];
    if (status) return c.json(errorBody(info.code, info.message), status);
    deps.onError?.(e);
    return c.json(errorBody('internal', 'the service failed to handle the request'), 500);
  });
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));

  // The dashboard's files are public (they hold no data); everything they show comes from the API with the token.
  if (deps.dashboard !== false) serveDashboard(app);

  mountOAuthCallback(app, deps.mcpOAuth); // public: before the bearer check
  app.use('*', async (c, next) => {
    const accountId = await deps.authenticate(c.req.raw, c.env);
    if (!accountId) {
      c.header('WWW-Authenticate', 'Bearer');
      return c.json(errorBody('unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)'), 401);
    }
    c.set('accountId', accountId);
    await next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize,
      // The rest of the body is never read, so this connection cannot carry another request.
      onError: (c) => c.json(errorBody('invalid_input', `the request body is larger than ${Math.round(maxSize / 1024)} KB`), 400, { Connection: 'close' }),
    }),
  );

  app.post('/tasks', async (c) => {
    const { record, created } = await service.submit(c.var.accountId, await jsonBody(c), 'http');
    return c.json({ taskId: record.id, status: record.status }, created ? 202 : 200);
  });
  app.get('/tasks', async (c) => c.json(await service.list(c.var.accountId, c.req.query())));
  app.get('/tasks/:id', async (c) => c.json(await service.get(c.var.accountId, c.req.param('id'))));
  app.get('/tasks/:id/events', async (c) => {
    // A reconnecting EventSource-style client sends Last-Event-ID; it wins over `after`.
    const after = c.req.header('last-event-id')?.trim() || c.req.query('after') || '0';
    const limit = c.req.query('limit') ?? '1000';
    const wait = c.req.query('wait') ?? '0';
    if (!/^\d{1,15}$/.test(after)) throw new DeepAgentError('invalid_input', 'after (or Last-Event-ID) must be a non-negative whole number');
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1) throw new DeepAgentError('invalid_input', 'limit must be a whole number from 1 to 9999');
    if (!/^\d{1,2}$/.test(wait) || Number(wait) > MAX_WAIT_SECONDS) throw new DeepAgentError('invalid_input', `wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
    const reader = { service, accountId: c.var.accountId, taskId: c.req.param('id'), options: live };
    await service.get(reader.accountId, reader.taskId); // 404 as JSON, before any stream starts
    if (live.streaming && /\btext\/event-stream\b/.test(c.req.header('accept') ?? '')) return streamTaskEvents(c, reader, Number(after));
    const events = await waitForEvents(reader, Number(after), Number(limit), Number(wait) * 1000, c.req.raw.signal);
    return c.json({ events, after: events.at(-1)?.seq ?? Number(after) });
  });
  app.post('/tasks/:id/cancel', async (c) => c.json(await service.cancel(c.var.accountId, c.req.param('id'))));
  app.post('/tasks/:id/approvals/:approvalId', async (c) =>
    c.json(await service.approve(c.var.accountId, c.req.param('id'), c.req.param('approvalId'), await jsonBody(c))),
  );

  app.get('/schedules', async (c) => c.json({ schedules: await service.listSchedules(c.var.accountId) }));
  app.post('/schedules', async (c) => c.json(await service.createSchedule(c.var.accountId, await jsonBody(c)), 201));
  app.delete('/schedules/:id', async (c) => {
    await service.deleteSchedule(c.var.accountId, c.req.param('id'));
    return c.json({ deleted: c.req.param('id') });
  });

  const mcp = (): McpConnectionBackend => {
    if (!deps.mcpConnections) throw new DeepAgentError('not_implemented', 'the MCP connection manager is not available in this runtime');
    return deps.mcpConnections;
  };
  app.get('/mcp-server-definitions', async (c) => c.json({ definitions: await mcp().listDefinitions(c.var.accountId) }));
  app.post('/mcp-connections/install', async (c) => {
    const backend = mcp();
    return c.json(await backend.install(c.var.accountId, await jsonBody(c)) as object, 201);
  });
  app.get('/mcp-connections', async (c) => c.json({ connections: await mcp().list(c.var.accountId) }));
  mountOAuthStart(app, deps.mcpOAuth, deps.publicUrl);
  app.delete('/mcp-connections/:id', async (c) => {
    await mcp().remove(c.var.accountId, c.req.param('id'));
    return c.json({ deleted: c.req.param('id') });
  });

  return app;
}

/**
 * An `authenticate` for one shared token (the local `serve`): constant-time comparison, one account.
 *
 * @example
 * createHttpApp({ service, authenticate: bearerTokenAuth(token, 'local') });
 */
export function bearerTokenAuth(token: string, accountId: string): HttpAppDeps['authenticate'] {
  const expected = new TextEncoder().encode(token);
  return (request) => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
    if (!m) return undefined;
    const given = new TextEncoder().encode(m[1]!);
    if (given.length !== expected.length) return undefined;
    let diff = 0;
    for (let i = 0; i < given.length; i++) diff |= given[i]! ^ expected[i]!;
    return diff === 0 ? accountId : undefined;
  };
}
