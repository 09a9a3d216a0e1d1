/** Agent-loop figures for issue 2: loop overhead per step, and what prompt caching saves on a 20-step task. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { openDatabase, SqliteTaskStore } from '../../lib/local/index.js';
import { billedInputEquivalent, type ModelClient, type ModelResponse } from '../../lib/model/index.js';
import { MemoryTaskStore, type TaskStore } from '../../lib/task/index.js';
import { emptyUsage } from '../../lib/task/index.js';
import { modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { startScriptedModel } from '../helpers/scripted-model.js';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** A model with no latency at all: each turn calls write_todos until the last, which answers. */
function instantModel(steps: number, stamps: number[]): ModelClient {
  let turn = 0;
  return {
    provider: 'anthropic',
    model: 'claude-sonnet-5-5',
    async createMessage(): Promise<ModelResponse> {
      stamps.push(performance.now());
      turn++;
      const content: any[] =
        turn < steps
          ? [{ type: 'tool_use', id: `toolu_${turn}`, name: 'write_todos', input: { todos: [{ content: `step ${turn}`, status: 'in_progress' }] } }]
          : [{ type: 'text', text: 'done', citations: null }];
      return { content, stopReason: turn < steps ? 'tool_use' : 'end_turn', usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 5 }, model: 'claude-sonnet-5-5' };
    },
  };
}

async function overheadPerStep(store: TaskStore, steps: number): Promise<number> {
  const stamps: number[] = [];
  const taskId = await queuedTask(store, 'benchmark');
  await runTask({ taskId, store, model: instantModel(steps, stamps), sandboxProvider: noSandbox, journal: new MemoryJournal() });
  const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
  return median(gaps);
}

/** Billed-equivalent input tokens of a 20-step task through the real SDK against the scripted server. */
async function billedInput(promptCaching: boolean): Promise<number> {
  const steps = 20;
  const server = await startScriptedModel((req) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    if (turn >= steps) return { text: 'done' };
    // A realistic turn: a command whose output (~1.5 KB) comes back as a tool result.
    return { toolUses: [{ name: 'write_todos', input: { todos: [{ content: `step ${turn}: ${'inspect the repository layout and note what matters; '.repeat(25)}`, status: 'in_progress' }] } }] };
  });
  try {
    const store = new MemoryTaskStore();
    const taskId = await queuedTask(store, 'a twenty-step task');
    const record = await runTask({ taskId, store, model: await modelFor(server, { promptCaching }), sandboxProvider: noSandbox, journal: new MemoryJournal() });
    if (record.steps !== steps) throw new Error(`expected ${steps} steps, got ${record.steps}`);
    return billedInputEquivalent(record.usage);
  } finally {
    await server.close();
  }
}

export async function benchAgent(): Promise<Record<string, number | string>> {
  const home = mkdtempSync(join(tmpdir(), 'deep-agent-bench-'));
  const db = openDatabase(home);
  try {
    // Warm up once, then measure.
    await overheadPerStep(new MemoryTaskStore(), 20);
    const sqlite = await overheadPerStep(new SqliteTaskStore(db), 200);
    const memory = await overheadPerStep(new MemoryTaskStore(), 200);
    const on = await billedInput(true);
    const off = await billedInput(false);
    return {
      'loop overhead per step, SQLite store (median ms, target <= 5)': Number(sqlite.toFixed(3)),
      'loop overhead per step, memory store (median ms)': Number(memory.toFixed(3)),
      '20-step task billed-equivalent input tokens, caching on': Math.round(on),
      '20-step task billed-equivalent input tokens, caching off': Math.round(off),
      'caching on / off (target <= 30%)': `${((on / off) * 100).toFixed(1)}%`,
    };
  } finally {
    db.close();
    rmSync(home, { recursive: true, force: true });
  }
}
