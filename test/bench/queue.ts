/**
 * Queue benchmark: tasks submitted over real HTTP to an in-process local service (SQLite queue, worker
 * concurrency 2) with a zero-latency scripted model. Prints nothing itself; the bench runner prints the figures.
 *
 * - throughput: N one-step tasks submitted at once, from the first submit to the last `task.succeeded`, beside
 *   a bare-SDK baseline: the same N model requests straight through `@anthropic-ai/sdk`, 8 at a time.
 * - submit_to_started_p50_ms / p95: one task at a time, from the submit request to its `task.started` event.
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config/index.js';
import { createModelClient } from '../../lib/model/index.js';
import type { SandboxProvider } from '../../lib/sandbox/index.js';
import { startLocalService } from '../../lib/local/index.js';
import { startScriptedModel } from '../helpers/scripted-model.js';

const noSandbox: SandboxProvider = {
  name: 'unsafe-local',
  async create() {
    throw new Error('the queue benchmark runs no tools');
  },
};

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** The same one-step model calls made straight through the SDK, `concurrency` at a time. */
async function bareThroughput(baseURL: string, requests: number, concurrency: number): Promise<number> {
  const client = new Anthropic({ apiKey: 'sk-ant-bench', baseURL, maxRetries: 0 });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 1024, messages: [{ role: 'user', content: `throughput ${next}` }] }).finalMessage();
    }),
  );
  return requests / ((performance.now() - t0) / 1000);
}

export async function benchQueue(options: { tasks?: number; samples?: number; concurrency?: number } = {}): Promise<Record<string, number | string>> {
  const tasks = options.tasks ?? 200;
  // Tasks hold a worker slot from start to finish, so throughput scales with the pool; 8 is a modest pool.
  const concurrency = options.concurrency ?? 8;
  const samples = options.samples ?? 50;
  const model = await startScriptedModel(() => ({ text: 'ok' }));
  const home = mkdtempSync(join(tmpdir(), 'bench-queue-'));
  const started = new Map<string, number>();
  const finished = new Map<string, number>();
  let onStarted: ((taskId: string) => void) | undefined;
  let onFinished: (() => void) | undefined;
  const token = 'bench-token-0123456789';
  const svc = await startLocalService({
    home,
    token,
    model: await createModelClient(loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-bench', ANTHROPIC_BASE_URL: model.url })),
    sandboxProvider: noSandbox,
    port: 0,
    schedulerIntervalMs: 0,
    settings: { concurrency },
    pollIntervalMs: 20,
    onEvent: (e) => {
      if (e.type === 'task.succeeded' || e.type === 'task.failed') {
        finished.set(e.taskId, performance.now());
        onFinished?.();
      }
      if (e.type !== 'task.started') return;
      started.set(e.taskId, performance.now());
      onStarted?.(e.taskId);
    },
  });
  const submit = async (prompt: string): Promise<string> => {
    const res = await fetch(`${svc.url}/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
    });
    return ((await res.json()) as { taskId: string }).taskId;
  };
  try {
    // Throughput: submit everything, wait until every task has finished.
    const allFinished = new Promise<void>((resolve) => {
      onFinished = () => finished.size >= tasks && resolve();
    });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: tasks }, (_, i) => submit(`throughput ${i}`)));
    await allFinished;
    const throughput = tasks / ((Math.max(...finished.values()) - t0) / 1000);
    const bare = await bareThroughput(model.url, tasks, concurrency);
    // Let the burst finish before measuring latency on an idle service.
    while (svc.storage.queue.stats().visible + svc.storage.queue.stats().inFlight > 0) await new Promise((r) => setTimeout(r, 20));

    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      let id = '';
      const seen = new Promise<void>((resolve) => {
        onStarted = (taskId) => taskId === id && resolve();
      });
      id = await submit(`latency ${i}`);
      if (!started.has(id)) await seen;
      latencies.push(started.get(id)! - t);
      while (svc.worker.active.length > 0) await new Promise((r) => setTimeout(r, 2));
    }
    return {
      queue_tasks: tasks,
      queue_worker_concurrency: concurrency,
      'throughput, submit to finished (tasks/s)': Math.round(throughput),
      'bare SDK baseline, same requests 8 at a time (requests/s)': Math.round(bare),
      submit_to_started_p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
      submit_to_started_p95_ms: Math.round(percentile(latencies, 95) * 10) / 10,
      submit_to_started_target: 'p50 <= 20',
    };
  } finally {
    await svc.stop(2_000);
    await model.close();
    rmSync(home, { recursive: true, force: true });
  }
}
