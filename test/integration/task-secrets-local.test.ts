/**
 * Task secrets in the local service with its real connection manager (SQLite records, AES-GCM credential
 * store) and two accounts over HTTP: a task may name only its own account's credentials (another account's
 * connection is unknown, 400 at submit); a credential removed between submit and run fails the task once,
 * non-retryably, before any model call, and its message ends in the queue's dead state with the error.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerTokenAuth, createHttpApp } from '../../lib/http/index.js';
import { startLocalService, type LocalService } from '../../lib/local/index.js';
import { openLocalMcpConnections, type LocalMcpConnections } from '../../lib/mcp-connections/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { modelFor, serveApp } from '../helpers/factories.js';
import { firstUserText, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'task-secrets-local-token-0123';
const OTHER_TOKEN = 'task-secrets-other-token-0123';
const VALUE = 'stored-value-of-the-local-account-7c1e';

let home: string;
let model: ScriptedModelServer;
let connections: LocalMcpConnections;
let svc: LocalService;
let otherServer: ServerType;
let otherUrl: string;

const call = async (method: string, path: string, body?: unknown, token = TOKEN, url = svc.url) => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as any };
};

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'task-secrets-local-'));
  // A server that never starts: the install stores its credential all the same (status failed).
  writeFileSync(
    join(home, 'catalog.json'),
    JSON.stringify({ definitions: [{ id: 'token-box', title: 'holds API_TOKEN', startCommand: { command: '/bin/false' }, credentialSchema: { API_TOKEN: { description: 'a token' } } }] }),
  );
  model = await startScriptedModel(() => ({ text: 'done' }));
  connections = await openLocalMcpConnections({ home, catalogFile: join(home, 'catalog.json'), healthIntervalMs: 0 });
  svc = await startLocalService({
    home,
    token: TOKEN,
    model: await modelFor(model, { maxRetries: 0 }),
    sandboxProvider: new BubblewrapSandboxProvider({ home }),
    port: 0,
    pollIntervalMs: 20,
    schedulerIntervalMs: 0,
    settings: { maxAttempts: 3, retryDelaySeconds: 0 },
    mcpConnections: connections.manager,
    credentials: connections.manager,
  });
  // A second account on the same service and manager, behind another token.
  const app = createHttpApp({ service: svc.service, authenticate: bearerTokenAuth(OTHER_TOKEN, 'other'), mcpConnections: connections.manager });
  ({ server: otherServer, url: otherUrl } = await serveApp(app));
}, 30_000);

afterAll(async () => {
  await new Promise((r) => otherServer?.close(r));
  await svc?.stop(0);
  await connections?.close();
  await model?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('task secrets in the local service', () => {
  it("refuses another account's connection as unknown (400), and takes the account's own", async () => {
    // prepare
    const theirs = await call('POST', '/mcp-connections/install', { definitionId: 'token-box', credentials: { API_TOKEN: VALUE } }, OTHER_TOKEN, otherUrl);
    const mine = await call('POST', '/mcp-connections/install', { definitionId: 'token-box', credentials: { API_TOKEN: VALUE } });
    const secret = (connection: string) => ({ prompt: 'say done', secrets: [{ env: 'API_TOKEN', connection, hosts: ['api.example.org'] }] });
    // act
    const foreign = await call('POST', '/tasks', secret(theirs.body.id));
    const own = await call('POST', '/tasks', secret(mine.body.id));
    const record = await until(() => call('GET', `/tasks/${own.body.taskId}`), (r) => r.body.status === 'succeeded');
    // assess
    expect(theirs.status).toBe(201);
    expect(foreign).toMatchObject({ status: 400, body: { error: { code: 'invalid_input', message: expect.stringContaining(`this account has no MCP connection ${theirs.body.id}`) } } });
    expect(own.status).toBe(202);
    expect(record.body.secrets).toEqual([{ env: 'API_TOKEN', connection: mine.body.id, hosts: ['api.example.org'] }]);
    expect(JSON.stringify([foreign, own, record])).not.toContain(VALUE);
  }, 30_000);

  it('fails a task whose credential went away before it ran: once, before any model call, its message dead with the error', async () => {
    // prepare: the worker is stopped while the task is submitted and its connection removed
    const installed = await call('POST', '/mcp-connections/install', { definitionId: 'token-box', name: 'short-lived', credentials: { API_TOKEN: VALUE } });
    await svc.worker.stop(0);
    const submitted = await call('POST', '/tasks', { prompt: 'never reaches the model', secrets: [{ env: 'API_TOKEN', connection: installed.body.id, hosts: ['api.example.org'] }] });
    const removed = await call('DELETE', `/mcp-connections/${installed.body.id}`);
    // act
    svc.worker.start();
    const record = (await until(() => call('GET', `/tasks/${submitted.body.taskId}`), (r) => r.body.status === 'failed')).body as TaskRecord;
    const dead = await until(
      () => Promise.resolve(svc.storage.queue.listDead().find((m) => m.taskId === record.id)),
      (m) => m !== undefined,
    );
    const { events } = (await call('GET', `/tasks/${record.id}/events`)).body as { events: TaskEvent[] };
    // assess
    expect(submitted.status).toBe(202);
    expect(removed.status).toBe(200);
    expect(record).toMatchObject({ attempts: 1, error: { code: 'invalid_input', message: expect.stringContaining(`this account has no MCP connection ${installed.body.id}`) } });
    expect(events.filter((e) => e.type === 'task.failed')).toHaveLength(1);
    expect(events.some((e) => e.type === 'task.retrying')).toBe(false);
    expect(dead).toMatchObject({ receiveCount: 1, lastError: expect.stringMatching(/^invalid_input: task secret secrets\.0 \(API_TOKEN\)/) });
    expect(model.requests.filter((r) => firstUserText(r) === 'never reaches the model')).toHaveLength(0);
  }, 30_000);
});
