/**
 * Deterministic replay of the agent core on Lambda durable functions, under the SDK's own LocalDurableTestRunner:
 * a turn whose tool calls (plain tools, sub-agents, approvals) finish in any order must replay with the same
 * operation ids at every suspension, end with its record written, and respect the deadline and the
 * operation budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { withDurableExecution, type DurableContext } from '@aws/durable-execution-sdk-js';
import { LocalDurableTestRunner } from '@aws/durable-execution-sdk-js-testing';
import { maxStepsWithin, runTask } from '../../lib/agent/index.js';
import { createAgentHandler, DURABLE_OPERATION_QUOTA, DurableJournal, DurableTaskService, type PendingApproval } from '../../lib/aws/index.js';
import type { ContentBlock, ModelClient, ModelRequest, ModelResponse } from '../../lib/model/types.js';
import { emptyUsage, MemoryTaskStore, newTaskRecord, type Budget, type TaskRecord } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import { noSandbox } from '../helpers/factories.js';
import { until } from '../helpers/wait.js';
import { ApprovalDocs, countedRunner } from '../helpers/durable-harness.js';

/** What the scripted model does in one turn of one agent (the main agent or a sub-agent, by its prompt). */
type TurnPlan = Array<{ kind: 'tool'; label: string; ms: number } | { kind: 'approval'; label: string } | { kind: 'sub'; prompt: string }>;

/** A model in-process: replies by agent prompt and turn, with a latency; counts each (agent, turn) it answers. */
class ScriptModel implements ModelClient {
  readonly provider = 'anthropic' as const;
  readonly model = 'scripted';
  readonly calls = new Map<string, number>();
  constructor(
    private readonly script: Map<string, TurnPlan[]>,
    private readonly latencyMs: (key: string) => number = () => 0,
  ) {}
  async createMessage(request: ModelRequest): Promise<ModelResponse> {
    const first = request.messages[0]!;
    const prompt = typeof first.content === 'string' ? first.content : '';
    const turn = request.messages.filter((m) => m.role === 'assistant').length + 1;
    const key = `${prompt}#${turn}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, this.latencyMs(key)));
    const plan = this.script.get(prompt)?.[turn - 1];
    const content: ContentBlock[] = plan
      ? plan.map((p, i) => {
          const id = `toolu_${prompt}_${turn}_${i}`.replace(/[^A-Za-z0-9_]/g, '_');
          if (p.kind === 'tool') return { type: 'tool_use', id, name: 'sleepy', input: { label: p.label, ms: p.ms } } as ContentBlock;
          if (p.kind === 'approval') return { type: 'tool_use', id, name: 'guarded', input: { label: p.label } } as ContentBlock;
          return { type: 'tool_use', id, name: 'task', input: { description: p.prompt, prompt: p.prompt } } as ContentBlock;
        })
      : [{ type: 'text', text: `answer of ${prompt}` } as ContentBlock];
    return { content, stopReason: plan ? 'tool_use' : 'end_turn', usage: { ...emptyUsage(), inputTokens: 10, outputTokens: 5 }, model: this.model };
  }
}

/** `sleepy` sleeps `ms`; `guarded` needs approval. Both count their executions by label. */
function countingTools(runs: Map<string, number>): Tool[] {
  const count = (label: string) => runs.set(label, (runs.get(label) ?? 0) + 1);
  return [
    defineTool({
      name: 'sleepy',
      description: 'sleeps',
      input: z.object({ label: z.string(), ms: z.number() }),
      run: async ({ label, ms }) => {
        count(label);
        await new Promise((r) => setTimeout(r, ms));
        return `slept ${label}`;
      },
    }),
    defineTool({
      name: 'guarded',
      description: 'needs a person',
      input: z.object({ label: z.string() }),
      run: async ({ label }) => {
        count(label);
        return `guarded ${label} ran`;
      },
    }),
  ];
}

interface Harness {
  runner: LocalDurableTestRunner<unknown>;
  store: MemoryTaskStore;
  approvals: ApprovalDocs;
  taskId: string;
  /** Handler invocations started and ended: a suspended execution has all of its invocations ended. */
  invocations: { started: number; ended: number };
}

async function harness(options: { model: ModelClient; tools: Tool[]; budget?: Budget; clock?: () => number; maxOperations?: number; approvalTimeoutSeconds?: number }): Promise<Harness> {
  const store = new MemoryTaskStore();
  const approvals = new ApprovalDocs();
  const taskId = `task-${Math.random().toString(36).slice(2, 10)}`;
  await store.create(newTaskRecord({ id: taskId, prompt: 'main', source: 'http', ...(options.budget ? { budget: options.budget } : {}) }));
  const handler = createAgentHandler({
    store: store as never,
    runTask,
    journalFor: (context: DurableContext, id: string) =>
      new DurableJournal(context, { taskId: id, approvals, ...(options.approvalTimeoutSeconds ? { approvalTimeoutSeconds: options.approvalTimeoutSeconds } : {}) }),
    prepare: async () => ({
      model: options.model,
      sandboxProvider: noSandbox,
      tools: options.tools,
      approvalPolicy: (tool) => (tool.name === 'guarded' ? 'guarded calls need a person' : undefined),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.maxOperations ? { limits: { maxOperations: options.maxOperations } } : {}),
    }),
  });
  const durable = withDurableExecution(handler);
  const { runner, invocations } = countedRunner(durable);
  return { runner, store, approvals, taskId, invocations };
}

/** Completes the runner's callback operation that carries `callbackId` (what Lambda's callback API does). */
async function sendDecision(runner: Harness['runner'], callbackId: string, decision: { approve: boolean; reason?: string }) {
  for (let i = 0; i < 2_000; i++) {
    const op = runner.getOperationByIndex(i);
    let details: { callbackId: string } | undefined;
    try {
      details = op.getCallbackDetails();
    } catch {
      details = undefined; // not a callback operation, or not started
    }
    if (details?.callbackId === callbackId) {
      await op.sendCallbackSuccess(JSON.stringify(decision));
      return;
    }
  }
  throw new Error(`no callback operation ${callbackId}`);
}

/** Runs the task to its end, approving (or denying) each approval as it appears. */
async function runToEnd(h: Harness, decide: (p: PendingApproval) => { approve: boolean; reason?: string } = () => ({ approve: true })) {
  const execution = h.runner.run({ payload: { taskId: h.taskId } });
  let done = false;
  void execution.finally(() => (done = true));
  const decided = new Set<string>();
  while (!done) {
    const next = await until(
      async () => h.approvals.pending().find((p) => !decided.has(p.approvalId)) ?? (done ? 'done' : undefined),
      (v) => v !== undefined,
      15_000,
      5,
    );
    if (next === 'done' || next === undefined) break;
    // Decide only once the invocation has suspended, so the next one replays the whole history.
    await until(async () => h.invocations.ended === h.invocations.started, Boolean, 15_000, 5);
    decided.add(next.approvalId);
    await sendDecision(h.runner, next.callbackId, decide(next));
  }
  return execution;
}

function errorOf(execution: Awaited<ReturnType<Harness['runner']['run']>>): string {
  try {
    return JSON.stringify(execution.getError()).slice(0, 500);
  } catch {
    return 'null'; // a succeeded execution has no error
  }
}

describe('the agent core replays deterministically on durable functions', () => {
  beforeAll(async () => {
    await LocalDurableTestRunner.setupTestEnvironment({ skipTime: true });
  });
  afterAll(async () => {
    await LocalDurableTestRunner.teardownTestEnvironment();
  });

  it('(a) two parallel sub-agents of different latencies, then an approval: SUCCEEDED, record succeeded', async () => {
    // prepare: sub-agent "slow" sleeps longer than "fast"; the next main turn needs approval
    const runs = new Map<string, number>();
    const model = new ScriptModel(
      new Map<string, TurnPlan[]>([
        ['main', [[{ kind: 'sub', prompt: 'slow' }, { kind: 'sub', prompt: 'fast' }], [{ kind: 'approval', label: 'deploy' }]]],
        ['slow', [[{ kind: 'tool', label: 'slow-work', ms: 60 }], [{ kind: 'tool', label: 'slow-more', ms: 10 }]]],
        ['fast', [[{ kind: 'tool', label: 'fast-work', ms: 1 }], [{ kind: 'tool', label: 'fast-more', ms: 1 }]]],
      ]),
    );
    const h = await harness({ model, tools: countingTools(runs) });
    // act
    const execution = await runToEnd(h);
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    // assess
    expect(errorOf(execution)).toBe('null');
    expect(execution.getStatus()).toBe('SUCCEEDED');
    expect(record).toMatchObject({ status: 'succeeded', result: { text: 'answer of main' } });
    expect(Object.fromEntries(runs)).toEqual({ 'slow-work': 1, 'slow-more': 1, 'fast-work': 1, 'fast-more': 1, deploy: 1 });
    expect([...model.calls.values()].every((n) => n === 1)).toBe(true);
  });

  it('(b) any mix of tools, sub-agents and approvals with random latencies replays at every suspension: 30 seeds', async () => {
    let replays = 0;
    const runSeed = async (seed: number) => {
      // prepare: a random script from the seed
      const random = mulberry32(seed);
      const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
      const script = new Map<string, TurnPlan[]>();
      const labels: string[] = [];
      let approvals = 0;
      let n = 0;
      const call = (allowSub: boolean): TurnPlan[number] => {
        const kind = pick(allowSub ? ['tool', 'tool', 'approval', 'sub', 'sub'] : ['tool', 'tool', 'approval']);
        const label = `s${seed}-${n++}`;
        if (kind === 'approval' && approvals < 2) {
          approvals++;
          labels.push(label);
          return { kind: 'approval', label };
        }
        if (kind === 'sub') {
          const prompt = `sub-${label}`;
          script.set(prompt, turns(1 + Math.floor(random() * 2), false));
          return { kind: 'sub', prompt };
        }
        labels.push(label);
        return { kind: 'tool', label, ms: Math.floor(random() * 8) };
      };
      const turns = (count: number, allowSub: boolean): TurnPlan[] =>
        Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => call(allowSub)));
      script.set('main', turns(1 + Math.floor(random() * 2), true));
      const latencies = new Map<string, number>();
      const model = new ScriptModel(script, (key) => latencies.get(key) ?? (latencies.set(key, Math.floor(random() * 6)), latencies.get(key)!));
      const runs = new Map<string, number>();
      const h = await harness({ model, tools: countingTools(runs) });
      // act
      const execution = await runToEnd(h);
      const record = (await h.store.get(h.taskId)) as TaskRecord;
      // assess
      const context = `seed ${seed}: ${JSON.stringify([...script])}`;
      expect(errorOf(execution), context).toBe('null');
      expect(execution.getStatus(), context).toBe('SUCCEEDED');
      expect(record.status, context).toBe('succeeded');
      expect(Object.fromEntries(runs), context).toEqual(Object.fromEntries(labels.map((l) => [l, 1])));
      expect([...model.calls.entries()].filter(([, count]) => count !== 1), context).toEqual([]);
      // Every decision came while suspended, so each suspension was followed by a full replay (approvals pending
      // side by side share one suspension).
      expect(h.invocations.started, context).toBeGreaterThanOrEqual(approvals > 0 ? 2 : 1);
      expect(h.invocations.started, context).toBeLessThanOrEqual(approvals + 1);
      replays += h.invocations.started - 1;
    };
    // Seeds run a few at a time (each execution is its own), to keep the file fast on a busy machine.
    for (let first = 1; first <= 30; first += 6) await Promise.all([0, 1, 2, 3, 4, 5].map((i) => runSeed(first + i)));
    expect(replays).toBeGreaterThan(20); // the seeds did suspend and replay, not just run through
  });

  it('(c) an approval decided after the deadline ends the task failed / budget_exceeded, without running the call', async () => {
    // prepare: a clock the test moves past the deadline while the person decides
    let offset = 0;
    const clock = () => Date.now() + offset;
    const runs = new Map<string, number>();
    const model = new ScriptModel(new Map<string, TurnPlan[]>([['main', [[{ kind: 'approval', label: 'late' }]]]]));
    const h = await harness({ model, tools: countingTools(runs), budget: { deadlineSeconds: 60 }, clock });
    // act
    const execution = await runToEnd(h, () => {
      offset += 120_000;
      return { approve: true };
    });
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    const types = (await h.store.listEvents(h.taskId)).map((e) => e.type);
    // assess
    expect(record).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded', message: 'the deadline of 60 s passed' } });
    expect(record.finishedAt).toBeDefined();
    expect(runs.get('late')).toBeUndefined();
    expect(types.slice(-2)).toEqual(['approval.resolved', 'task.failed']);
    // A task that failed on purpose ends its execution normally: it is a metric, not an infrastructure alarm.
    expect(execution.getStatus()).toBe('SUCCEEDED');
  });

  it('(d) a task that would exceed the operation budget ends budget_exceeded with its record written, inside the budget', async () => {
    // prepare: a model that never stops calling tools, and a budget of 20 journal operations
    const runs = new Map<string, number>();
    const endless: TurnPlan[] = Array.from({ length: 100 }, (_, i) => [
      { kind: 'tool', label: `t${i}a`, ms: 0 },
      { kind: 'tool', label: `t${i}b`, ms: 0 },
    ]);
    const model = new ScriptModel(new Map([['main', endless]]));
    const h = await harness({ model, tools: countingTools(runs), maxOperations: 20 });
    // act
    const execution = await runToEnd(h);
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    // assess
    expect(record).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded' } });
    expect(record.error?.message).toMatch(/operation budget/);
    expect(execution.getOperations().length).toBeLessThanOrEqual(20);
    expect(execution.getOperations().length).toBeGreaterThan(15); // it used the budget, not stopped at once
    expect((await h.store.listEvents(h.taskId)).at(-1)?.type).toBe('task.failed');
  });

  it('an approval nobody decides ends the task budget_exceeded when its wait runs out', async () => {
    // prepare
    const runs = new Map<string, number>();
    const model = new ScriptModel(new Map<string, TurnPlan[]>([['main', [[{ kind: 'approval', label: 'ignored' }]]]]));
    const h = await harness({ model, tools: countingTools(runs), approvalTimeoutSeconds: 1 });
    // act: no decision is ever sent (the runner skips the time)
    const execution = await h.runner.run({ payload: { taskId: h.taskId } });
    const record = (await h.store.get(h.taskId)) as TaskRecord;
    // assess
    expect(record).toMatchObject({ status: 'failed', error: { code: 'budget_exceeded', message: expect.stringContaining('no decision on approval') } });
    expect(runs.size).toBe(0);
    expect(execution.getStatus()).toBe('SUCCEEDED');
  });

  it('refuses at submit a maxSteps that cannot fit in one durable execution (400 invalid_input)', async () => {
    // prepare
    const service = new DurableTaskService({ store: new MemoryTaskStore() as never, queue: {} as never, lambda: {} as never, agentFunctionName: 'agent:live' });
    const fits = maxStepsWithin(DURABLE_OPERATION_QUOTA);
    // act
    const refused = await service.submit('acct-1', { prompt: 'go', budget: { maxSteps: fits + 1 } }).catch((e: unknown) => e);
    // assess
    expect(fits).toBeGreaterThan(50); // the default budget fits
    expect(refused).toMatchObject({ code: 'invalid_input', message: expect.stringContaining(`at most ${fits} model turns`) });
  });
});

/** A small seeded PRNG, so a failing seed can be replayed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
