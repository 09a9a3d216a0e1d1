/** Builders shared by tests. */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import * as z from 'zod';
import { loadConfig } from '../../lib/config/index.js';
import { createModelClient, type ModelClientOptions } from '../../lib/model/index.js';
import type { SandboxProvider } from '../../lib/sandbox/types.js';
import { MemoryTaskStore, type TaskStore } from '../../lib/task/index.js';
import { newTaskRecord, type Budget } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import type { ScriptedModelServer } from './scripted-model.js';

/** A fake key, shaped like a real one (assembled, so no credential-shaped literal sits in the source). */
export const TEST_API_KEY = ['sk', 'ant', 'test-canary-0123456789abcdef'].join('-');

/** A real model client (real SDK) pointed at the scripted server. */
export function modelFor(server: Pick<ScriptedModelServer, 'url'>, options: ModelClientOptions = {}) {
  return createModelClient(loadConfig({ ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: server.url }), { retryBaseDelayMs: 1, ...options });
}

/** A provider for runs whose tools never touch a sandbox; using it is a test failure. */
export const noSandbox: SandboxProvider = {
  name: 'unsafe-local',
  async create() {
    throw new Error('this test does not expect a sandbox');
  },
};

export async function queuedTask(store: TaskStore, prompt = 'do the thing', budget?: Budget) {
  const id = randomUUID();
  await store.create(newTaskRecord({ id, prompt, source: 'cli', ...(budget ? { budget } : {}) }));
  return id;
}

export const memoryStore = () => new MemoryTaskStore();

/** A tool that sleeps, recording when each call starts and ends. */
export function sleepyTool(log: { name: string; at: number; edge: 'start' | 'end' }[], ms = 150): Tool {
  return defineTool({
    name: 'sleepy',
    description: 'sleeps',
    input: z.object({ label: z.string() }),
    run: async ({ label }) => {
      log.push({ name: label, at: performance.now(), edge: 'start' });
      await new Promise((r) => setTimeout(r, ms));
      log.push({ name: label, at: performance.now(), edge: 'end' });
      return `slept ${label}`;
    },
  });
}

export const throwingTool: Tool = defineTool({
  name: 'explode',
  description: 'always throws',
  input: z.object({}),
  run: async () => {
    throw new Error('kaboom from the tool');
  },
});

/**
 * An API Gateway HTTP API (v2) event as the API function receives it behind the Lambda authorizer: the account
 * comes only from the authorizer's context (none: a request that reached the function unauthenticated).
 *
 * @example
 * await handler(apiGatewayEvent('GET', '/tasks?limit=5', { accountId: 'acct-a' }));
 */
export function apiGatewayEvent(
  method: string,
  pathAndQuery: string,
  options: { accountId?: string; body?: unknown; headers?: Record<string, string>; host?: string } = {},
) {
  const [path = '/', query = ''] = pathAndQuery.split('?');
  const host = options.host ?? 'abc123.execute-api.eu-west-1.amazonaws.com';
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: query,
    headers: { 'content-type': 'application/json', host, ...options.headers },
    requestContext: {
      accountId: '123456789012',
      authentication: null,
      apiId: 'abc123',
      domainName: host,
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 1767225600000,
      ...(options.accountId ? { authorizer: { lambda: { accountId: options.accountId } } } : {}),
    },
    body: options.body === undefined ? null : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    isBase64Encoded: false,
  };
}

/**
 * Serves a Hono app (`createHttpApp`) on a free loopback port, e.g. a second account's API beside a service.
 *
 * @example
 * const { server, url } = await serveApp(createHttpApp({ service, authenticate }));
 */
export async function serveApp(app: { fetch: Parameters<typeof serve>[0]['fetch'] }): Promise<{ server: ServerType; url: string }> {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
