/**
 * SSE benchmark: first-event latency after write. A task's SSE stream is open against the `serve` HTTP app
 * (SQLite store, in-process notifier, node-server on loopback); an event is appended and the time until the
 * client has parsed it is taken. Beside it, the baselines: the old `logs --follow` (GET every 500 ms) and a
 * write from another process (seen only by the stream's fallback poll, 1 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { createHttpApp, sseData } from '../../lib/http/index.js';
import { openDatabase, SqliteTaskStore } from '../../lib/local/index.js';
import { newTaskRecord, observeEvents, TaskEventNotifier, TaskService, type TaskEvent } from '../../lib/task/index.js';

const TOKEN = 'bench-token';
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

export async function benchSse(options: { samples?: number; pollSamples?: number } = {}): Promise<Record<string, number | string>> {
  const samples = options.samples ?? 50;
  const pollSamples = options.pollSamples ?? 8;
  const home = mkdtempSync(join(tmpdir(), 'bench-sse-'));
  const db = openDatabase(home);
  const sqlite = new SqliteTaskStore(db);
  const notifier = new TaskEventNotifier();
  const store = observeEvents(sqlite, (e) => notifier.publish(e));
  const service = new TaskService({ store, queue: { send: () => {} } });
  const app = createHttpApp({ service, authenticate: () => 'local', liveEvents: { streaming: true, notifier, fallbackPollMs: 1_000 } });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    /** Opens a stream on a fresh task and returns a function that times one write until its event arrives. */
    const openTimedStream = async (writer: typeof store) => {
      const id = `bench-${Math.random().toString(36).slice(2)}`;
      await store.create(newTaskRecord({ id, prompt: 'bench', source: 'http', accountId: 'local' }));
      const res = await fetch(`${url}/tasks/${id}/events`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' } });
      let arrived: ((e: TaskEvent) => void) | undefined;
      void (async () => {
        for await (const data of sseData(res.body!)) arrived?.(JSON.parse(data));
      })().catch(() => {});
      return async () => {
        const got = new Promise<TaskEvent>((r) => (arrived = r));
        const t0 = performance.now();
        await writer.appendEvent(id, 'plan.updated', { plan: [] });
        await got;
        return performance.now() - t0;
      };
    };

    const streamed = await openTimedStream(store);
    await streamed(); // warm-up: the first read of the stream
    const sse: number[] = [];
    for (let i = 0; i < samples; i++) sse.push(await streamed());

    const otherProcess = await openTimedStream(sqlite);
    await otherProcess();
    const fallback: number[] = [];
    for (let i = 0; i < Math.min(4, pollSamples); i++) fallback.push(await otherProcess());

    // The old `logs --follow`: GET ?after=SEQ every 500 ms, the write landing anywhere in the interval.
    const id = 'bench-poll';
    await store.create(newTaskRecord({ id, prompt: 'bench', source: 'http', accountId: 'local' }));
    const poll: number[] = [];
    let after = 0;
    for (let i = 0; i < pollSamples; i++) {
      await new Promise((r) => setTimeout(r, Math.random() * 500));
      const t0 = performance.now();
      await store.appendEvent(id, 'plan.updated', { plan: [] });
      for (;;) {
        const page = (await (await fetch(`${url}/tasks/${id}/events?after=${after}`)).json()) as { events: TaskEvent[] };
        if (page.events.length) {
          after = page.events.at(-1)!.seq;
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      poll.push(performance.now() - t0);
    }
    // The poll above starts right after the write; a real poller is, on average, half an interval away.
    const pollExpected = poll.map((x) => x + 250);
    return {
      sse_first_event_after_write_p50: ms(percentile(sse, 50)),
      sse_first_event_after_write_p95: ms(percentile(sse, 95)),
      sse_target: '<= 100 ms',
      baseline_poll_500ms_p50: ms(percentile(pollExpected, 50)),
      baseline_other_process_write_fallback_poll_1s_p50: ms(percentile(fallback, 50)),
      samples: `${samples} streamed, ${pollSamples} polled, ${fallback.length} fallback`,
    };
  } finally {
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}
