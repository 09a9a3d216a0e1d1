/**
 * Live events over real HTTP (@hono/node-server on loopback): the SSE stream of `serve` (ids, resume with
 * Last-Event-ID after a dropped connection, heartbeats, end after the terminal event), the long-poll that API
 * Gateway gets instead, and the client's `follow` over both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient, createHttpApp, sseData, type LiveEventOptions } from '../../lib/http/index.js';
import { MemoryTaskStore, newTaskRecord, observeEvents, TaskEventNotifier, TaskService, type TaskEvent, type TaskStore } from '../../lib/task/index.js';
import { openDatabase, SqliteTaskStore, startLocalService } from '../../lib/local/index.js';
import { modelFor, noSandbox } from '../helpers/factories.js';
import { startScriptedModel } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

const TOKEN = 'stream-token';
let server: ServerType | undefined;

async function start(live: LiveEventOptions & { withNotifier?: boolean } = {}) {
  const notifier = new TaskEventNotifier();
  const store: TaskStore = observeEvents(new MemoryTaskStore(), (e) => notifier.publish(e));
  const service = new TaskService({ store, queue: { send: () => {} } });
  const app = createHttpApp({
    service,
    authenticate: (req) => (req.headers.get('authorization') === `Bearer ${TOKEN}` ? 'acct' : undefined),
    liveEvents: { ...(live.withNotifier === false ? {} : { notifier }), ...live },
  });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { record } = await store.create(newTaskRecord({ id: `t-${Math.random().toString(36).slice(2)}`, prompt: 'p', source: 'http', accountId: 'acct' }));
  const write = (type: TaskEvent['type']) => store.appendEvent(record.id, type, { n: type });
  const finish = async () => {
    await store.update(record.id, { status: 'succeeded' });
    return write('task.succeeded');
  };
  return { url, store, notifier, taskId: record.id, write, finish };
}

afterEach(async () => {
  (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** Opens the SSE stream and yields each message's parsed event; `raw` collects every text chunk. */
async function openStream(url: string, taskId: string, headers: Record<string, string> = {}, query = '') {
  const controller = new AbortController();
  const res = await fetch(`${url}/tasks/${taskId}/events${query}`, {
    headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const [forData, forRaw] = res.body!.tee();
  const raw: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of forRaw as unknown as AsyncIterable<Uint8Array>) raw.push(decoder.decode(chunk));
    } catch {
      /* dropped on purpose */
    }
  })();
  const events: TaskEvent[] = [];
  let closed = false;
  void (async () => {
    try {
      for await (const data of sseData(forData)) events.push(JSON.parse(data));
    } catch {
      /* dropped on purpose */
    }
    closed = true;
  })();
  return { res, events, raw, drop: () => controller.abort(), get closed() { return closed; } };
}

describe('SSE on GET /tasks/{id}/events (serve)', () => {
  it('streams events as written, and a dropped connection resumed with Last-Event-ID misses and repeats nothing', async () => {
    // prepare
    const t = await start({ streaming: true, fallbackPollMs: 60_000 });
    for (const type of ['task.queued', 'task.started', 'plan.updated'] as const) await t.write(type);
    // act: the first connection reads three old and one live event, then drops
    const first = await openStream(t.url, t.taskId);
    await until(async () => first.events.length, (n) => n === 3);
    await t.write('tool.called');
    await until(async () => first.events.length, (n) => n === 4);
    first.drop();
    await t.write('tool.result');
    await t.write('model.response');
    const lastSeen = first.events.at(-1)!.seq;
    const second = await openStream(t.url, t.taskId, { 'last-event-id': String(lastSeen) });
    await until(async () => second.events.length, (n) => n === 2);
    await t.write('plan.updated');
    await t.finish();
    await until(async () => second.closed, Boolean);
    // assess
    expect(first.res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const seqs = [...first.events, ...second.events].map((e) => e.seq);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(second.events.at(-1)!.type).toBe('task.succeeded');
    expect(first.raw.join('')).toMatch(/^event: task\.queued\ndata: .*\nid: 1\n\n/m);
    await until(async () => t.notifier.waiters, (n) => n === 0);
  });

  it('sends heartbeats while nothing happens, and `after` skips what was read', async () => {
    // prepare
    const t = await start({ streaming: true, heartbeatMs: 30 });
    await t.write('task.queued');
    await t.write('task.started');
    // act
    const s = await openStream(t.url, t.taskId);
    const resumed = await openStream(t.url, t.taskId, {}, '?after=1');
    await until(async () => s.raw.join(''), (text) => text.includes(': heartbeat'));
    await t.finish();
    await until(async () => s.closed && resumed.closed, Boolean);
    // assess
    expect(s.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(resumed.events.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('answers an unknown task with a JSON 404 and a bad Last-Event-ID with a 400, not a stream', async () => {
    const t = await start({ streaming: true });
    const missing = await fetch(`${t.url}/tasks/nope/events`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
    const bad = await fetch(`${t.url}/tasks/${t.taskId}/events`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream', 'last-event-id': 'x' } });
    expect([missing.status, ((await missing.json()) as { error: { code: string } }).error.code]).toEqual([404, 'not_found']);
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).toEqual([400, 'invalid_input']);
  });
});

describe('long-poll on GET /tasks/{id}/events?after=SEQ&wait=N (API Gateway cannot stream)', () => {
  it('answers JSON even to Accept: text/event-stream, and a waiting request returns the event written meanwhile', async () => {
    // prepare: no streaming, no notifier (another process writes), a fast fallback poll
    const t = await start({ streaming: false, withNotifier: false, fallbackPollMs: 20 });
    await t.write('task.queued');
    // act
    const waiting = fetch(`${t.url}/tasks/${t.taskId}/events?after=1&wait=5`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
    await new Promise((r) => setImmediate(r));
    await t.write('task.started');
    const res = await waiting;
    const tooLong = await fetch(`${t.url}/tasks/${t.taskId}/events?wait=21`, { headers: { authorization: `Bearer ${TOKEN}` } });
    // assess
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as { events: TaskEvent[] }).events.map((e) => e.type)).toEqual(['task.started']);
    expect(tooLong.status).toBe(400);
  });

  it('returns at once for a finished task instead of waiting out the wait', async () => {
    const t = await start({ streaming: false, withNotifier: false, fallbackPollMs: 60_000 });
    await t.finish();
    const res = await fetch(`${t.url}/tasks/${t.taskId}/events?after=1&wait=20`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(((await res.json()) as { events: TaskEvent[] }).events).toEqual([]);
  });
});

describe('ApiClient.follow', () => {
  /** A fetch that cuts every event stream after `n` messages, as a flaky network would. */
  const cuttingFetch = (n: number): typeof fetch => async (input, init) => {
    const res = await fetch(input, init);
    if (!/event-stream/.test(res.headers.get('content-type') ?? '')) return res;
    let seen = 0;
    const reader = res.body!.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        seen += (new TextDecoder().decode(value).match(/\nid: /g) ?? []).length;
        controller.enqueue(value);
        if (seen >= n) {
          await reader.cancel();
          controller.error(new TypeError('terminated'));
        }
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };

  it.each([
    ['the SSE stream, reconnecting after drops', { streaming: true }],
    ['the long-poll', { streaming: false, withNotifier: false, fallbackPollMs: 20 }],
  ] as const)('delivers every event exactly once over %s', async (_name, live) => {
    // prepare
    const t = await start(live);
    for (const type of ['task.queued', 'task.started', 'plan.updated'] as const) await t.write(type);
    const client = new ApiClient({ url: t.url, token: TOKEN, fetch: cuttingFetch(2) });
    const got: number[] = [];
    // act
    const following = client.follow(t.taskId, { onEvent: (e) => got.push(e.seq), maxReconnects: 20 });
    await until(async () => got.length, (n) => n === 3);
    for (const type of ['tool.called', 'tool.result', 'model.response'] as const) await t.write(type);
    await t.finish();
    const last = await following;
    // assess
    expect(got).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(last).toBe(7);
  });
});

describe('SSE in the local service (startLocalService: the worker writes, another connection writes)', () => {
  it('streams a run written by the worker as it happens, and picks up another process\'s writes by the fallback poll', async () => {
    // prepare
    const model = await startScriptedModel((req) =>
      req.body.messages.length === 1 ? { delayMs: 150, toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'stream it', status: 'in_progress' }] } }] } : { text: 'streamed' },
    );
    const home = mkdtempSync(join(tmpdir(), 'sse-serve-'));
    const svc = await startLocalService({ home, token: TOKEN, model: await modelFor(model), sandboxProvider: noSandbox, port: 0, pollIntervalMs: 20, schedulerIntervalMs: 0, liveEvents: { fallbackPollMs: 50 } });
    try {
      const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
      // act 1: a task run by the worker
      const { taskId } = (await (await fetch(`${svc.url}/tasks`, { method: 'POST', headers: auth, body: JSON.stringify({ prompt: 'stream me' }) })).json()) as { taskId: string };
      const live = await openStream(svc.url, taskId);
      await until(async () => live.closed, Boolean, 15_000);
      // act 2: a task written only through another connection (as a CLI `run` on the same file would)
      const db = openDatabase(home);
      const other = new SqliteTaskStore(db);
      await other.create(newTaskRecord({ id: 'other-process', prompt: 'p', source: 'cli', accountId: 'local' }));
      const watched = await openStream(svc.url, 'other-process');
      await other.appendEvent('other-process', 'task.started', {});
      await until(async () => watched.events.length, (n) => n === 1);
      await other.update('other-process', { status: 'succeeded' });
      await other.appendEvent('other-process', 'task.succeeded', { steps: 0 });
      await until(async () => watched.closed, Boolean);
      db.close();
      // assess
      const types = live.events.map((e) => e.type);
      expect(types[0]).toBe('task.queued');
      expect(types).toEqual(expect.arrayContaining(['task.started', 'plan.updated', 'model.response', 'tool.called', 'tool.result']));
      expect(types.at(-1)).toBe('task.succeeded');
      expect(live.events.map((e) => e.seq)).toEqual(live.events.map((_, i) => i + 1));
      expect(watched.events.map((e) => e.type)).toEqual(['task.started', 'task.succeeded']);
    } finally {
      await svc.stop(1_000);
      await model.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
