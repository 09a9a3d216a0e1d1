/**
 * Agent-loop figures, each beside a bare-SDK baseline run in the same process against the same scripted server
 * (real `@anthropic-ai/sdk`, streaming over HTTP): per-step time at 20, 100 and 300 steps, billed-equivalent
 * input with and without prompt caching, and the wall time of 8 parallel 500 ms tool calls.
 */
import Anthropic from '@anthropic-ai/sdk';
import * as z from 'zod';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { openDatabase, SqliteTaskStore } from '../../lib/local/index.js';
import { billedInputEquivalent, type ModelClient } from '../../lib/model/index.js';
import { MemoryTaskStore, type TaskStore } from '../../lib/task/index.js';
import { defineTool } from '../../lib/tools/index.js';
import { modelFor, noSandbox, queuedTask, TEST_API_KEY } from '../helpers/factories.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { stepScript, StepServerProcess } from './step-server.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => Number(x.toFixed(2));
const LIMITS = { maxSteps: 1_000, maxCostUsd: 1_000, deadlineSeconds: 3_600 };

/** The last fifth of a run (at least 10 values): steps at that conversation length. */
const late = (xs: number[]) => xs.slice(-Math.max(10, Math.floor(xs.length / 5)));
/** Time between consecutive requests at the server: a whole step (SDK, HTTP, server and loop). */
const stepTimes = (stamps: number[]) => late(stamps.slice(1).map((t, i) => t - stamps[i]!));
/** Time from one model answer to the next model call: the loop's own work per step. */
const ownTimes = (calls: Array<[number, number]>) => late(calls.slice(1).map(([start], i) => start - calls[i]![1]));

/** The model client, stamping when each call starts and returns. */
function stamped(model: ModelClient, calls: Array<[number, number]>): ModelClient {
  return {
    provider: model.provider,
    model: model.model,
    async createMessage(request, hooks) {
      const start = performance.now();
      try {
        return await model.createMessage(request, hooks);
      } finally {
        calls.push([start, performance.now()]);
      }
    },
  };
}

/** The loop a user writes by hand on the SDK: stream, append, answer each tool call, with one moving cache breakpoint. */
async function bareLoop(server: Pick<ScriptedModelServer, 'url'>, options: { caching?: boolean; calls?: Array<[number, number]> } = {}): Promise<Anthropic.Usage[]> {
  const client = new Anthropic({ apiKey: TEST_API_KEY, baseURL: server.url, maxRetries: 0 });
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'benchmark' }];
  const tools: Anthropic.Tool[] = [{ name: 'write_todos', description: 'the plan', input_schema: { type: 'object', properties: { todos: { type: 'array' } } } }];
  const usage: Anthropic.Usage[] = [];
  for (;;) {
    const last = messages[messages.length - 1]!;
    const body: Anthropic.MessageParam[] =
      options.caching && Array.isArray(last.content)
        ? [...messages.slice(0, -1), { ...last, content: last.content.map((b, j, all) => (j === all.length - 1 ? { ...b, cache_control: { type: 'ephemeral' } } : b)) } as Anthropic.MessageParam]
        : messages;
    const start = performance.now();
    const msg = await client.messages.stream({ model: 'claude-sonnet-5-5', max_tokens: 8192, system: 'You are a bare loop.', tools, messages: body }).finalMessage();
    options.calls?.push([start, performance.now()]);
    usage.push(msg.usage);
    messages.push({ role: 'assistant', content: msg.content });
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    if (uses.length === 0) return usage;
    messages.push({ role: 'user', content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: 'plan updated' })) });
  }
}

async function agentRun(server: Pick<ScriptedModelServer, 'url'>, store: TaskStore, options: { promptCaching?: boolean; calls?: Array<[number, number]> } = {}) {
  const taskId = await queuedTask(store, 'benchmark');
  const model = await modelFor(server, { promptCaching: options.promptCaching ?? true });
  return runTask({ taskId, store, model: options.calls ? stamped(model, options.calls) : model, sandboxProvider: noSandbox, journal: new MemoryJournal(), limits: LIMITS });
}

interface StepSamples {
  agent: number[];
  bare: number[];
  agentOwn: number[];
  bareOwn: number[];
}

/**
 * Per-step times (late steps) of the agent (SQLite store, as `run` uses) and of the bare loop, at `steps` steps,
 * against servers in `servers` (another process) or, without it, in this one.
 */
async function perStep(store: TaskStore, steps: number, servers?: StepServerProcess): Promise<StepSamples> {
  const start = async () => {
    if (servers) return servers.start(steps);
    const stamps: number[] = [];
    const server: ScriptedModelServer = await startScriptedModel(stepScript(steps, stamps, () => server));
    return { url: server.url, close: async () => (await server.close(), stamps) };
  };
  const bareCalls: Array<[number, number]> = [];
  const agentCalls: Array<[number, number]> = [];
  const bareServer = await start();
  const agentServer = await start();
  let bareStamps: number[] = [];
  let agentStamps: number[] = [];
  try {
    await bareLoop(bareServer, { caching: true, calls: bareCalls });
    await agentRun(agentServer, store, { calls: agentCalls });
  } finally {
    bareStamps = await bareServer.close();
    agentStamps = await agentServer.close();
  }
  return { agent: stepTimes(agentStamps), bare: stepTimes(bareStamps), agentOwn: ownTimes(agentCalls), bareOwn: ownTimes(bareCalls) };
}

/** Billed-equivalent input tokens of a 20-step task. */
async function billed(kind: 'agent' | 'bare', promptCaching: boolean): Promise<number> {
  const server = await startScriptedModel(stepScript(20, []));
  try {
    if (kind === 'bare') {
      const usage = await bareLoop(server, { caching: promptCaching });
      return usage.reduce((sum, u) => sum + billedInputEquivalent({ inputTokens: u.input_tokens, cacheReadTokens: u.cache_read_input_tokens ?? 0, cacheWriteTokens: u.cache_creation_input_tokens ?? 0 }), 0);
    }
    const record = await agentRun(server, new MemoryTaskStore(), { promptCaching });
    if (record.steps !== 20) throw new Error(`expected 20 steps, got ${record.steps}`);
    return billedInputEquivalent(record.usage);
  } finally {
    await server.close();
  }
}

/** 8 tool calls of 500 ms in one turn: wall time from the first start to the last end, over the slowest call. */
async function parallelTools(): Promise<{ agent: number; bare: number; slowest: number }> {
  const CALLS = 8;
  const SLEEP_MS = 500;
  const spans: Array<[number, number]> = [];
  const sleepy = defineTool({
    name: 'sleepy',
    description: 'sleeps',
    input: z.object({ label: z.string() }),
    run: async () => {
      const start = performance.now();
      await new Promise((r) => setTimeout(r, SLEEP_MS));
      spans.push([start, performance.now()]);
      return 'slept';
    },
  });
  const server = await startScriptedModel([{ toolUses: Array.from({ length: CALLS }, (_, i) => ({ name: 'sleepy', input: { label: `${i}` } })) }, { text: 'done' }]);
  try {
    const store = new MemoryTaskStore();
    const taskId = await queuedTask(store, 'parallel');
    await runTask({ taskId, store, model: await modelFor(server), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: [sleepy], limits: LIMITS });
    const agentWall = Math.max(...spans.map((s) => s[1])) - Math.min(...spans.map((s) => s[0]));
    const slowest = Math.max(...spans.map((s) => s[1] - s[0]));
    // The baseline: the same calls under one Promise.all, as a bare loop would run them.
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CALLS }, () => new Promise((r) => setTimeout(r, SLEEP_MS))));
    return { agent: agentWall / slowest, bare: (performance.now() - t0) / SLEEP_MS, slowest };
  } finally {
    await server.close();
  }
}

/**
 * Per-step figures at 20, 100 and 300 steps. Rounds interleave the sizes, so a change in the machine's load (it
 * is shared) falls on every size alike; short runs give fewer late steps, so they run more often. Each size's
 * figure is the median of all its late steps pooled (hundreds), the baseline's alike.
 */
async function stepFigures(store: TaskStore, servers: StepServerProcess | undefined, figures: Record<string, number | string>): Promise<number> {
  const sizes = [[20, 3], [100, 2], [300, 1]] as const;
  const pooled = new Map<number, StepSamples>(sizes.map(([steps]) => [steps, { agent: [], bare: [], agentOwn: [], bareOwn: [] }]));
  for (let round = 0; round < 3; round++) {
    for (const [steps, runs] of sizes) {
      for (let i = 0; i < runs; i++) {
        const got = await perStep(store, steps, servers);
        const pool = pooled.get(steps)!;
        for (const k of ['agent', 'bare', 'agentOwn', 'bareOwn'] as const) pool[k].push(...got[k]);
      }
    }
  }
  const overhead: Record<number, number> = {};
  for (const [steps] of sizes) {
    const pool = pooled.get(steps)!;
    const of = (k: keyof StepSamples) => median(pool[k]);
    overhead[steps] = of('agentOwn');
    if (!servers) continue; // the in-process figures only give the ratio beside
    figures[`at ${steps} steps, whole step: agent / bare SDK loop (median ms of ${pool.agent.length} late steps)`] = `${ms(of('agent'))} / ${ms(of('bare'))}`;
    figures[`at ${steps} steps, loop overhead (model answer to next call): agent / bare (ms)`] = `${ms(of('agentOwn'))} / ${ms(of('bareOwn'))}`;
  }
  return overhead[300]! / overhead[20]!;
}

/**
 * @example
 * const figures = await benchAgent(); // { 'per-step time at 20 steps, agent / bare SDK (ms)': '2.1 / 1.4', ... }
 */
export async function benchAgent(): Promise<Record<string, number | string>> {
  const home = mkdtempSync(join(tmpdir(), 'deep-agent-bench-'));
  const db = openDatabase(home);
  const servers = new StepServerProcess();
  try {
    const store = new SqliteTaskStore(db);
    await perStep(store, 20, servers); // warm-up
    const figures: Record<string, number | string> = {};
    const ratio = await stepFigures(store, servers, figures);
    figures['loop overhead at 300 steps / at 20 (target <= 1.3)'] = Number(ratio.toFixed(2));
    // The same with the server in this process: its per-request garbage (it parses every growing body) is then
    // collected on this heap, and the loop's fixed work slows as the heap grows.
    figures['the same ratio with the scripted server in the measured process'] = Number((await stepFigures(store, undefined, figures)).toFixed(2));

    const on = await billed('agent', true);
    const off = await billed('agent', false);
    const bareOn = await billed('bare', true);
    const bareOff = await billed('bare', false);
    figures['20-step task billed-equivalent input, caching on: agent / bare SDK'] = `${Math.round(on)} / ${Math.round(bareOn)}`;
    figures['20-step task billed-equivalent input, caching off: agent / bare SDK'] = `${Math.round(off)} / ${Math.round(bareOff)}`;
    figures['caching on / off: agent / bare SDK (target <= 30%)'] = `${((on / off) * 100).toFixed(1)}% / ${((bareOn / bareOff) * 100).toFixed(1)}%`;

    const parallel = await parallelTools();
    figures['8 parallel 500 ms tool calls, wall / slowest call: agent / bare Promise.all (target <= 1.2)'] = `${parallel.agent.toFixed(2)} / ${parallel.bare.toFixed(2)}`;
    return figures;
  } finally {
    servers.close();
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}
