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
import { runTask } from '../../lib/agent/index.js';
import { createAgentHandler, DurableJournal, type PendingApproval } from '../../lib/aws/index.js';
import type { ContentBlock, ModelClient, ModelRequest, ModelResponse } from '../../lib/model/types.js';
import { emptyUsage, MemoryTaskStore, newTaskRecord, type Budget, type TaskRecord } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import { noSandbox } from '../helpers/factories.js';
import { until } from '../helpers/wait.js';

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

/** Pending approvals by callback id, as the S3 store would keep them. */
class ApprovalDocs {
  readonly docs = new Map<string, unknown>();
  async putDocument(key: string, value: unknown) {
    this.docs.set(key, structuredClone(value));
  }
  async getDocument<T>(key: string) {
    return this.docs.get(key) as T | undefined;
  }
  pending(): PendingApproval[] {
    return [...this.docs.values()] as PendingApproval[];
  }
}

interface Harness {
  runner: LocalDurableTestRunner<unknown>;
  store: MemoryTaskStore;
  approvals: ApprovalDocs;
  taskId: string;
  /** Handler invocations started and ended: a suspended execution has all of its invocations ended. */
  invocations: { started: number; ended: number };
}

async function harness(options: { model: ModelClient; tools: Tool[]; budget?: Budget; clock?: () => number }): Promise<Harness> {
  const store = new MemoryTaskStore();
  const approvals = new ApprovalDocs();
  const taskId = `task-${Math.random().toString(36).slice(2, 10)}`;
  await store.create(newTaskRecord({ id: taskId, prompt: 'main', source: 'http', ...(options.budget ? { budget: options.budget } : {}) }));
  const handler = createAgentHandler({
    store: store as never,
    runTask,
    journalFor: (context: DurableContext, id: string) => new DurableJournal(context, { taskId: id, approvals }),
    prepare: async () => ({
      model: options.model,
      sandboxProvider: noSandbox,
      tools: options.tools,
      approvalPolicy: (tool) => (tool.name === 'guarded' ? 'guarded calls need a person' : undefined),
      ...(options.clock ? { clock: options.clock } : {}),
    }),
  });
  const durable = withDurableExecution(handler);
  const invocations = { started: 0, ended: 0 };
  const counted = (async (event: never, context: never) => {
    invocations.started++;
    try {
      return await durable(event, context);
    } finally {
      invocations.ended++;
    }
  }) as typeof durable;
  const runner = new LocalDurableTestRunner({ handlerFunction: counted });
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
});
