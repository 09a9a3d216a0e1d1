import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalPolicyFor } from '../../lib/assembly/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { createSandboxProvider } from '../../lib/sandbox/index.js';
import { startLocalService, type LocalService } from '../../lib/local/index.js';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { modelFor } from '../helpers/factories.js';
import { firstUserText, lastToolResults, startScriptedModel, type CapturedRequest, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'test-token-0123456789';

/** Replies by prompt and turn, so several tasks can share one scripted server. */
const SCRIPTS: Record<string, (turn: number, req: CapturedRequest) => ScriptedReply> = {
  hello: (turn) =>
    turn === 1
      ? { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'say hello', status: 'in_progress' }] } }] }
      : turn === 2
        ? { toolUses: [{ name: 'run_command', input: { command: 'echo hello from bwrap > out.txt && cat out.txt' } }] }
        : { text: 'said hello' },
  slow: (turn) => (turn === 1 ? { toolUses: [{ name: 'write_todos', input: { todos: [] } }] } : { delayMs: 10_000, text: 'too late' }),
  approve: (turn) => (turn === 1 ? { toolUses: [{ name: 'write_file', input: { path: 'approved.txt', content: 'approved run' } }] } : { text: 'done after approval' }),
  deny: (turn) => (turn === 1 ? { toolUses: [{ name: 'write_file', input: { path: 'important.txt', content: 'overwritten' } }] } : { text: 'gave up' }),
  broken: () => ({ error: { status: 400, message: 'scripted permanent failure' } }),
  flaky: () => ({ error: { status: 500, message: 'scripted server failure' } }),
  // The port of this machine's listener comes in the prompt: "netbound <port>".
  netbound: (turn, req) =>
    turn === 1
      ? { toolUses: [{ name: 'run_command', input: { command: `curl -sS -m 5 http://127.0.0.1:${firstUserText(req).split(' ')[1]}/ 2>&1`, network: true } }] }
      : { text: 'fetched' },
  quick: () => ({ text: 'quick answer' }),
};

let server: ScriptedModelServer;
let home: string;
let svc: LocalService;

const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const { token = TOKEN, ...rest } = init;
  return fetch(`${svc.url}${path}`, {
    ...rest,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(rest.headers ?? {}) },
  });
};
const submit = async (body: unknown) => {
  const res = await api('/tasks', { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { taskId: string; status: string } };
};
const getTask = async (id: string) => (await (await api(`/tasks/${id}`)).json()) as TaskRecord;
const events = async (id: string, after = 0) => ((await (await api(`/tasks/${id}/events?after=${after}`)).json()) as { events: TaskEvent[] }).events;

const settled = (id: string, status: TaskRecord['status'] | ((s: string) => boolean)) =>
  until(() => getTask(id), (r) => (typeof status === 'function' ? status(r.status) : r.status === status));

beforeAll(async () => {
  server = await startScriptedModel((req) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    const key = firstUserText(req).split(' ')[0]!;
    return (SCRIPTS[key] ?? SCRIPTS.quick!)(turn, req);
  });
  home = mkdtempSync(join(tmpdir(), 'service-http-'));
  const config = loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'local' });
  svc = await startLocalService({
    home,
    token: TOKEN,
    model: await modelFor(server, { maxRetries: 0 }),
    sandboxProvider: await createSandboxProvider(config),
    port: 0,
    pollIntervalMs: 20,
    schedulerIntervalMs: 0,
    settings: { concurrency: 3, maxAttempts: 2, retryDelaySeconds: 0, visibilityTimeoutSeconds: 30 },
    // The one policy, from the configuration as serve builds it: write_file always asks.
    approvalPolicy: await approvalPolicyFor(loadConfig({ DEEP_AGENT_APPROVE_TOOLS: 'write_file' }).approval),
  });
});
afterAll(async () => {
  await svc?.stop(1_000);
  await server?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('auth', () => {
  it('answers 401 JSON without a token or with a wrong one, on every route', async () => {
    for (const [path, method, token] of [
      ['/tasks', 'POST', null],
      ['/tasks/x', 'GET', 'wrong-token-0123456789'],
      ['/schedules', 'GET', null],
      ['/mcp-connections', 'GET', 'Bearer'],
    ] as const) {
      const res = await api(path, { method, token, ...(method === 'POST' ? { body: '{"prompt":"x"}' } : {}) });
      expect(res.status, path).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect(svc.storage.queue.stats()).toMatchObject({ visible: 0 });
  });
});

describe('POST /tasks validation', () => {
  it('rejects not-JSON, missing or mistyped fields and oversize bodies with 400 JSON, queueing nothing', async () => {
    const before = { queue: svc.storage.queue.stats(), tasks: (await svc.storage.tasks.list()).length };
    const bodies = ['{"prompt": "unterminated', '', '[]', '{}', '{"prompt": 42}', '{"prompt": "ok", "budget": {"maxSteps": "ten"}}', '{"prompt":"ok","accountId":"someone-else"}', JSON.stringify({ prompt: 'x'.repeat(300_000) })];
    for (const body of bodies) {
      const res = await api('/tasks', { method: 'POST', body });
      expect(res.status, body.slice(0, 40)).toBe(400);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('invalid_input');
      expect(json.error.message).not.toContain('\n');
    }
    expect(svc.storage.queue.stats()).toEqual(before.queue);
    expect((await svc.storage.tasks.list()).length).toBe(before.tasks);
  });

  it('answers 404 JSON for an unknown task and route, and 501 for the MCP manager it was not given', async () => {
    expect((await api('/tasks/nope')).status).toBe(404);
    expect(await (await api('/tasks/nope/events')).json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await api('/no/such/route')).status).toBe(404);
    const mcp = await api('/mcp-server-definitions');
    expect(mcp.status).toBe(501);
    expect(await mcp.json()).toMatchObject({ error: { code: 'not_implemented' } });
  });
});

describe('requests the app cannot represent', () => {
  it('answers `OPTIONS *` and a backslash path with 400 JSON in the error shape, not an empty body', async () => {
    for (const target of ['*', '/tasks\\..\\x']) {
      // act: raw HTTP, since fetch cannot send an asterisk-form target
      const raw = await new Promise<string>((resolve, reject) => {
        const sock = connect(svc.port, '127.0.0.1', () => sock.write(`OPTIONS ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
        let out = '';
        sock.on('data', (d) => (out += d));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
      // assess
      expect(raw, target).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toMatch(/content-type: application\/json/i);
      const body = JSON.parse(raw.slice(raw.indexOf('{'), raw.lastIndexOf('}') + 1)) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_input');
    }
  });
});

describe('network allowlists over HTTP', () => {
  it('refuses a task network.allow that is too broad or not a host, queueing nothing', async () => {
    for (const allow of [['*'], ['*.com'], ['not a host'], 'pkg.example.org']) {
      const res = await api('/tasks', { method: 'POST', body: JSON.stringify({ prompt: 'quick', network: { allow } }) });
      expect(res.status, JSON.stringify(allow)).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_input' } });
    }
  });

  it("keeps a task's network.allow on its record, and a command asking for network: true reaches only those hosts", async () => {
    const listener = createHttpServer((_req, res) => res.end('hello from the listed host\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    try {
      const allowed = await submit({ prompt: `netbound ${port}`, network: { allow: [`127.0.0.1:${port}`] } });
      const other = await submit({ prompt: `netbound ${port}`, network: { allow: [`127.0.0.1:${port + 1}`] } });
      const [a, b] = await Promise.all([settled(allowed.body.taskId, 'succeeded'), settled(other.body.taskId, 'succeeded')]);
      expect(a.network).toEqual({ allow: [`127.0.0.1:${port}`] });
      // Both tasks ran the same command: one reached the listener, the other was refused by its proxy.
      const outputs = server.requests
        .filter((r) => firstUserText(r) === `netbound ${port}` && lastToolResults(r).size > 0)
        .map((r) => [...lastToolResults(r).values()][0]!.text);
      expect(outputs).toHaveLength(2);
      expect(outputs.filter((t) => t.includes('hello from the listed host'))).toHaveLength(1);
      expect(outputs.filter((t) => t.includes('blocked by network allowlist'))).toHaveLength(1);
      expect(b.status).toBe('succeeded');
    } finally {
      listener.close();
    }
  });
});

describe('a task over HTTP', () => {
  it('runs to succeeded in bubblewrap with events in order, readable page by page', async () => {
    const { status, body } = await submit({ prompt: 'hello world', budget: { maxSteps: 5 } });
    expect(status).toBe(202);
    expect(body.status).toBe('queued');
    const record = await settled(body.taskId, 'succeeded');
    expect(record).toMatchObject({ source: 'http', accountId: 'local', attempts: 1, steps: 3, result: { text: 'said hello' } });
    const all = await events(body.taskId);
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((e) => e.type)).toEqual([
      'task.queued',
      'task.started',
      'model.response',
      'tool.called',
      'plan.updated',
      'tool.result',
      'model.response',
      'tool.called',
      'tool.result',
      'model.response',
      'task.succeeded',
    ]);
    const later = await events(body.taskId, 3);
    expect(later[0]!.seq).toBe(4);
    expect(readFileSync(join(home, 'workspaces', body.taskId, 'out.txt'), 'utf8')).toBe('hello from bwrap\n');
  });

  it('returns the same task for the same idempotency key', async () => {
    const a = await submit({ prompt: 'quick one', idempotencyKey: 'same-key-1' });
    const b = await submit({ prompt: 'quick one', idempotencyKey: 'same-key-1' });
    expect(a.status).toBe(202);
    expect([200, 202]).toContain(b.status);
    expect(b.body.taskId).toBe(a.body.taskId);
    const c = await submit({ prompt: 'quick one', idempotencyKey: 'other-key' });
    expect(c.body.taskId).not.toBe(a.body.taskId);
    await settled(a.body.taskId, 'succeeded');
    expect((await events(a.body.taskId)).filter((e) => e.type === 'task.started')).toHaveLength(1);
  });

  it('cancels a running task at once', async () => {
    const { body } = await submit({ prompt: 'slow task' });
    await until(() => events(body.taskId), (es) => es.some((e) => e.type === 'tool.result'));
    const t0 = Date.now();
    const res = await api(`/tasks/${body.taskId}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    const record = await settled(body.taskId, (s) => s === 'cancelled' && true);
    await until(() => events(body.taskId), (es) => es.some((e) => e.type === 'task.cancelled'));
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(record.error?.code).toBe('cancelled');
    expect((await events(body.taskId)).filter((e) => e.type === 'task.cancelled')).toHaveLength(1);
    expect(svc.worker.active).not.toContain(body.taskId);
  });
});

describe('approvals', () => {
  const approvalOf = async (id: string) => {
    const es = await until(() => events(id), (list) => list.some((e) => e.type === 'approval.requested'));
    return es.find((e) => e.type === 'approval.requested')!.data as { approvalId: string; tool: string };
  };

  it('pauses a configured tool until approved, then runs it', async () => {
    const { body } = await submit({ prompt: 'approve this' });
    const req = await approvalOf(body.taskId);
    expect(req.tool).toBe('write_file');
    expect((await getTask(body.taskId)).status).toBe('waiting_approval');
    const res = await api(`/tasks/${body.taskId}/approvals/${req.approvalId}`, { method: 'POST', body: JSON.stringify({ approve: true }) });
    expect(res.status).toBe(200);
    const record = await settled(body.taskId, 'succeeded');
    expect(record.result?.text).toBe('done after approval');
    const result = (await events(body.taskId)).find((e) => e.type === 'tool.result')!;
    expect(result.data).toMatchObject({ ok: true, name: 'write_file' });
    expect(readFileSync(join(home, 'workspaces', body.taskId, 'approved.txt'), 'utf8')).toBe('approved run');
  });

  it('returns a denial to the model as an error result; bad approval bodies and ids are 4xx', async () => {
    const { body } = await submit({ prompt: 'deny this' });
    const req = await approvalOf(body.taskId);
    expect((await api(`/tasks/${body.taskId}/approvals/${req.approvalId}`, { method: 'POST', body: '{"approve":"yes"}' })).status).toBe(400);
    expect((await api(`/tasks/${body.taskId}/approvals/not-an-approval`, { method: 'POST', body: '{"approve":true}' })).status).toBe(404);
    const res = await api(`/tasks/${body.taskId}/approvals/${req.approvalId}`, { method: 'POST', body: JSON.stringify({ approve: false, reason: 'not today' }) });
    expect(res.status).toBe(200);
    await settled(body.taskId, 'succeeded');
    const denied = server.requests.filter((r) => firstUserText(r).startsWith('deny')).at(-1)!;
    const [result] = [...lastToolResults(denied).values()];
    expect(result).toMatchObject({ isError: true, text: expect.stringContaining('not today') });
    expect((await events(body.taskId)).some((e) => e.type === 'tool.called')).toBe(false);
  });
});

describe('failures', () => {
  it('a task whose model always fails (500) is failed after N attempts with its error recorded', async () => {
    const { body } = await submit({ prompt: 'flaky model' });
    const record = await settled(body.taskId, 'failed');
    expect(record.attempts).toBe(2);
    expect(record.error).toMatchObject({ code: 'model_error', message: expect.stringContaining('scripted server failure') });
    const types = (await events(body.taskId)).map((e) => e.type);
    expect(types.filter((t) => t === 'task.retrying')).toHaveLength(1);
    expect(types.at(-1)).toBe('task.failed');
    expect(svc.storage.queue.listDead().map((m) => m.taskId)).toContain(body.taskId);
  });

  it('a model answer that cannot succeed (400) is not retried: failed after one attempt, its message dead with the error', async () => {
    // act
    const { body } = await submit({ prompt: 'broken model' });
    const record = await settled(body.taskId, 'failed');
    const dead = await until(
      () => Promise.resolve(svc.storage.queue.listDead().find((m) => m.taskId === body.taskId)),
      (m) => m !== undefined,
    );
    // assess
    expect(record.attempts).toBe(1);
    expect(record.error).toMatchObject({ code: 'model_error', message: expect.stringContaining('scripted permanent failure') });
    // the dead letter keeps the task's error, after its one receive
    expect(dead).toMatchObject({ receiveCount: 1, lastError: expect.stringMatching(/^model_error: .*scripted permanent failure/) });
    const types = (await events(body.taskId)).map((e) => e.type);
    expect(types.filter((t) => t === 'task.retrying')).toHaveLength(0);
    expect(types.filter((t) => t === 'task.failed')).toHaveLength(1);
    expect(types.at(-1)).toBe('task.failed');
    // the scripted model saw exactly one request for it: neither the client nor the queue tried again
    expect(server.requests.filter((r) => firstUserText(r).startsWith('broken'))).toHaveLength(1);
    await until(() => Promise.resolve(svc.storage.queue.stats()), (s) => s.inFlight === 0 && s.visible === 0);
  });
});
