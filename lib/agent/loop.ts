/**
 * The plan-execute loop. The model plans with `write_todos`, then calls tools until it ends its turn or a budget
 * stops it. Every model turn is a named journal step, every tool call of a turn runs in a child context of its
 * own, and every event is emitted inside a step, so a runtime that replays a task (SQLite journal, durable
 * Lambda) neither re-runs finished work nor logs it twice, whatever order concurrent calls finished in.
 *
 * Each capability lives in a module of its own: budgets and the abort (`budgets.ts`), approvals
 * (`approvals.ts`, `approval-policy.ts`), sub-agents (`subagents.ts`), compaction (`compaction.ts`), the
 * sandbox (`sandbox-lifecycle.ts`), tool results (`tool-results.ts`) and client-side tool search (`tool-search.ts`).
 */
import { DeepAgentError, isRetryable, toErrorInfo } from '../errors/index.js';
import { addUsage, emptyUsage, isTerminal, type EventType, type TaskRecord } from '../task/index.js';
import type { ContentBlock, MessageParam, ModelResponse } from '../model/index.js';
import { builtinTools, toToolSpec, type Tool, type ToolContext } from '../tools/index.js';
import { approvalReason, askApproval } from './approvals.js';
import {
  allotOperations,
  CountedJournal,
  FINISH_RESERVE,
  minimumCost,
  OPERATIONS,
  operationsExceeded,
  resolveLimits,
  RunAbort,
  RunBudget,
  SUBAGENT_RESERVE,
  type CallKind,
} from './budgets.js';
import { compactIfLarge } from './compaction.js';
import { ConversationSize } from './context-size.js';
import { isSuspension } from './journal.js';
import type { AgentScope, RunContext } from './run-context.js';
import { TaskSandbox } from './sandbox-lifecycle.js';
import { TaskResources } from './task-resources.js';
import { runSubagent } from './subagents.js';
import { errorResult, runToolStep, toolResultBlock, truncate, type ToolStepResult, type ToolUse } from './tool-results.js';
import { clientToolSearch, unwrapCallTool } from './tool-search.js';
import type { RunTaskOptions } from './types.js';

export { DEFAULT_LIMITS } from './budgets.js';

const SYSTEM_PROMPT = `You are deep-agent, an autonomous engineer that plans and executes developer workflows.

How you work:
- Start by writing a short plan with write_todos. Keep it current: mark an item in_progress when you start it and completed when it is done.
- Do the work with tools. Commands and files live in an isolated sandbox workspace; paths are relative to it. Commands have no network unless you pass network: true (install_packages always has network).
- Independent tool calls may be issued together in one turn; they run concurrently.
- Use the task tool to delegate a self-contained sub-task to a sub-agent with a fresh context.
- A tool error is information: read it, adjust, and go on.
- When the task is done, reply with a concise final answer (what you did, where the results are) and no tool call.`;

/** Runs `fns` with at most `limit` at a time (each inside its own child context, so waiting changes no id). */
function bounded(limit: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

function textOf(content: ContentBlock[]): string {
  return content
    .filter((b): b is Extract<ContentBlock, { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('\n')
    .trim();
}

/** One model turn (of the main agent or a sub-agent) as a step; the main agent's later turns look for a cancel first. */
function modelStep(run: RunContext, journal: CountedJournal, scope: AgentScope, system: string, messages: MessageParam[], turn: number) {
  const { model, onTextDelta } = run.options;
  return journal.step<ModelResponse>(`${scope.prefix}model:${turn}`, async () => {
    if (scope.depth === 0 && turn > 1) {
      // Read inside the step: a replay sees what the first run saw.
      const now = await run.store.get(run.taskId);
      if (now?.status === 'cancelled') run.abort.cancelNow();
      const cancelled = run.abort.cancelled();
      if (cancelled) throw cancelled;
    }
    const res = await model.createMessage(
      { system, messages, tools: scope.tools.map(toToolSpec), maxTokens: run.limits.maxTokens },
      {
        signal: run.abort.signal,
        onRetry: (info) => void run.emit('task.retrying', { scope: 'model', turn, ...info }).catch(() => {}),
        ...(onTextDelta && scope.depth === 0 ? { onTextDelta } : {}),
      },
    );
    // Progress on the record, written inside the step so a replay writes nothing (task:finish writes the totals).
    await run.store.update(run.taskId, { usage: addUsage(run.totals.usage, res.usage), steps: run.totals.steps + 1 });
    const toolCalls = res.content.filter((b) => b.type === 'tool_use').map((b) => (b as { name: string }).name);
    await run.emit('model.response', {
      agent: scope.agent,
      turn,
      model: res.model,
      stopReason: res.stopReason,
      usage: res.usage,
      toolCalls,
      text: truncate(textOf(res.content), 2000, ''),
    });
    return res;
  });
}

/** Operations an agent keeps for after its turns: `task:finish` is outside the main context's limit already. */
const reserveOf = (scope: AgentScope) => (scope.depth === 0 ? 0 : SUBAGENT_RESERVE);

/**
 * Runs the tool calls of one turn, each in its child context `<prefix>call:<id>`. Children are started in the
 * model's order (their ids are fixed then); the gate only bounds how many work at once. All are awaited, and the
 * first failure *in call order* wins, so the outcome does not depend on which finished first.
 */
async function runTurnTools(run: RunContext, journal: CountedJournal, scope: AgentScope, uses: ToolUse[], gate: ReturnType<typeof bounded>): Promise<ToolStepResult[]> {
  const byName = new Map(scope.tools.map((t) => [t.name, t]));
  const calls = uses.map((asked) => {
    // `call_tool` (client-side tool search) runs the tool it names, in its place, under that tool's approvals.
    const inner = unwrapCallTool(asked);
    const found = inner && (byName.get(inner.name) ?? withheldTool(run, scope, inner.name));
    const use = found ? inner : asked;
    const tool = found || byName.get(use.name) || withheldTool(run, scope, use.name);
    const reason = tool && !(tool.name === 'task' && scope.depth === 0) ? approvalReason(run, tool, use.input) : undefined;
    const kind: CallKind = tool?.name === 'task' && scope.depth === 0 ? 'subagent' : reason ? 'approval' : 'tool';
    return { use, tool, reason, kind };
  });
  const available = journal.remaining - reserveOf(scope) - OPERATIONS.turn;
  const { run: fit, subagentLimit } = allotOperations(
    calls.map((c) => c.kind),
    available,
    run.limits.maxToolCallsPerTurn,
  );
  if (fit === 0) throw operationsExceeded(journal.limit);
  const settled = await Promise.allSettled(
    calls.map(({ use, tool, reason, kind }, i) => {
      if (i >= fit) {
        return Promise.resolve(errorResult(use, `not run: at most ${fit} tool calls of this turn fit in the task's budget (${run.limits.maxToolCallsPerTurn} per turn); call the rest in a later turn.`));
      }
      const limit = kind === 'subagent' ? subagentLimit : minimumCost(kind) - OPERATIONS.child;
      return journal.child(`${scope.prefix}call:${use.id}`, limit, (child) =>
        gate(async () => {
          if (kind === 'subagent') return runSubagent(run, child, scope.prefix, use, converse.bind(null, run));
          if (reason) {
            const refused = await askApproval(run, child, scope.prefix, use, reason);
            if (refused) return refused;
          }
          return runToolStep(run, child, scope.prefix, use, tool, run.toolContext);
        }),
      );
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<ToolStepResult>).value);
}

/** A tool withheld by the client-side tool search that this agent may use: a model that guesses its name is not refused. */
function withheldTool(run: RunContext, scope: AgentScope, name: string): Tool | undefined {
  const tool = run.withheldTools?.get(name);
  return tool && (scope.accepts?.(tool) ?? true) ? tool : undefined;
}

/**
 * Tools attached while the task runs (a server `deploy_mcp_server` just deployed) join at the END of the list,
 * never reordering it, so the cached prompt prefix holds.
 */
function refreshTools(run: RunContext, scope: AgentScope): void {
  const has = (list: Tool[], t: Tool) => list.some((known) => known.name === t.name);
  for (const t of run.options.latestTools?.() ?? []) {
    if (!has(run.allTools, t)) run.allTools.push(t);
    const withheld = run.withheldTools?.has(t.name) ?? false; // reached through search_tools and call_tool
    if (scope.tools !== run.allTools && !withheld && (scope.accepts?.(t) ?? true) && !has(scope.tools, t)) scope.tools.push(t);
  }
}

/** The conversation loop shared by the main agent and sub-agents. */
async function converse(run: RunContext, journal: CountedJournal, scope: AgentScope): Promise<string> {
  const system = run.instructions ? `${SYSTEM_PROMPT}\n\n${run.instructions}` : SYSTEM_PROMPT;
  const messages: MessageParam[] = [{ role: 'user', content: scope.prompt }];
  const size = new ConversationSize(messages);
  const gate = bounded(run.limits.toolConcurrency);
  const reserve = reserveOf(scope);
  for (let turn = 1; ; turn++) {
    run.budget.check(scope.view, journal, OPERATIONS.turn + reserve);
    await compactIfLarge(run, journal, scope.prefix, scope.agent, turn, messages, size);
    refreshTools(run, scope);
    const res = await modelStep(run, journal, scope, system, messages, turn);
    run.totals.steps++;
    run.totals.usage = addUsage(run.totals.usage, res.usage);
    if (scope.own) {
      scope.own.steps++;
      scope.own.costUsd += res.usage.costUsd;
    }
    messages.push({ role: 'assistant', content: res.content as MessageParam['content'] });
    const uses = res.content.filter((b) => b.type === 'tool_use') as unknown as ToolUse[];
    if (uses.length === 0) return textOf(res.content);
    run.budget.check(scope.view, journal, reserve);
    const results = await runTurnTools(run, journal, scope, uses, gate);
    messages.push({ role: 'user', content: results.map(toolResultBlock) as MessageParam['content'] });
  }
}

/**
 * Runs one task to its end and returns the final record. Never throws for a task failure: the record says
 * `failed` with an error code (e.g. `budget_exceeded`). With `rethrowTransient`, retryable errors (model and
 * sandbox infrastructure) are thrown instead, leaving the task `running`, so a queue can retry it. A journal's
 * suspension (`RunSuspended`) is always rethrown: the task stays as it is until a later run resumes it.
 *
 * @example
 * const record = await runTask({ taskId, store, model, sandboxProvider, journal: new MemoryJournal() });
 */
export async function runTask(options: RunTaskOptions & { rethrowTransient?: boolean }): Promise<TaskRecord> {
  const { taskId, store, model, sandboxProvider, journal } = options;
  const initial = await store.get(taskId);
  if (!initial) throw new DeepAgentError('not_found', `task ${taskId} does not exist`);
  if (isTerminal(initial.status)) return initial;

  const limits = resolveLimits(options.limits, initial.budget);
  const clock = options.clock ?? Date.now;
  const abort = new RunAbort(options.signal);
  const emit = async (type: EventType, data: Record<string, unknown>) => {
    await store.appendEvent(taskId, type, data);
  };
  const builtins = builtinTools();
  const allTools = [...builtins, ...(options.tools ?? [])];
  const sandbox = new TaskSandbox(sandboxProvider, store, initial);
  const resources = new TaskResources(options.resources ?? [], store, initial);
  const totals = { usage: initial.usage ?? emptyUsage(), steps: 0, plan: initial.plan ?? [] };
  const operations = limits.maxOperations ?? journal.operationQuota ?? Infinity;
  const root = new CountedJournal(journal, { limit: operations - FINISH_RESERVE, lastAt: 0, clock, work: abort.signal });

  const finish = (patch: Partial<TaskRecord>, type: EventType, data: Record<string, unknown>) =>
    root.step('task:finish', async () => {
      const record = await store.update(taskId, { ...patch, finishedAt: new Date(clock()).toISOString(), usage: totals.usage, steps: totals.steps, plan: totals.plan });
      await emit(type, data);
      return record;
    });

  const started = await root
    .step('task:start', async () => {
      const startedAt = new Date(clock()).toISOString();
      await store.update(taskId, { status: 'running', startedAt, usage: emptyUsage(), steps: 0 });
      // How the sandbox's memory, process and disk limits are held here; the ones this host cannot hold are named.
      const sandboxLimits = await sandboxProvider.enforcedLimits?.().catch(() => undefined);
      const limitInfo = sandboxLimits
        ? { sandboxLimits, unenforcedSandboxLimits: Object.entries(sandboxLimits).filter(([, l]) => l.by === 'none').map(([name]) => name) }
        : {};
      // The task's masked variables by name (their values are read after this step, for each run).
      const secrets = initial.secrets?.length ? { secrets: initial.secrets.map((s) => s.env) } : {};
      await emit('task.started', { model: model.model, provider: model.provider, sandbox: sandboxProvider.name, ...limitInfo, ...secrets, tools: allTools.map((t) => t.name), ...options.startInfo });
      return { startedAt };
    })
    .catch((e: unknown) => {
      abort.dispose();
      throw e;
    });

  let parked = false;
  /** The queue will run the task again (a transient error was rethrown): what it owns waits, paused, for that run. */
  let retried = false;
  let final: TaskRecord | undefined;
  try {
    totals.usage = emptyUsage();
    const budget = new RunBudget(limits, Date.parse(started.startedAt), () => abort.cancelled());
    abort.armDeadline(budget.deadlineAt, clock(), () => budget.deadlineError());
    const toolContext: ToolContext = {
      taskId,
      sandbox: () => sandbox.get(),
      signal: abort.signal,
      emit,
      setPlan: async (items) => {
        totals.plan = items;
        await store.update(taskId, { plan: items });
        await emit('plan.updated', { plan: items });
      },
    };
    // The values of the task's secrets: read for each run, never journaled, known to the redactor from here on.
    if (initial.secrets?.length) {
      if (!options.taskSecrets) throw DeepAgentError.nonRetryable('invalid_input', 'this task names secrets, and this runtime holds no account credentials to resolve them');
      sandbox.holdCredentials(await options.taskSecrets(initial));
    }
    await resources.open(root);
    // Decided once the task's resources are up: its gateway's tools count towards the threshold too.
    const latest = options.latestTools?.() ?? [];
    const search = clientToolSearch(model, [...(options.tools ?? []), ...latest.filter((t) => !allTools.some((known) => known.name === t.name))]);
    if (search) allTools.splice(builtins.length, 0, ...search.tools);
    const instructions = [options.instructions, ...resources.notes()].filter(Boolean).join('\n\n') || undefined;
    const run: RunContext = {
      taskId, store, options, limits, budget, abort, clock, emit, sandbox, resources, allTools, toolContext, totals,
      ...(instructions ? { instructions } : {}),
      ...(search ? { withheldTools: search.deferred } : {}),
    };
    const view = { steps: () => totals.steps, costUsd: () => totals.usage.costUsd };
    const tools = search ? allTools.filter((t) => !search.deferred.has(t.name)) : allTools;
    const answer = await converse(run, root, { prefix: '', agent: 'main', prompt: initial.prompt, tools, depth: 0, view });
    final = await finish({ status: 'succeeded', result: { text: answer } }, 'task.succeeded', { usage: totals.usage, steps: totals.steps, costUsd: totals.usage.costUsd });
    return final;
  } catch (e) {
    // A run parked on an approval ends here and resumes later.
    parked = isSuspension(e);
    retried = Boolean(options.rethrowTransient && isRetryable(e));
    if (parked || retried) throw e;
    const info = toErrorInfo(e);
    const cancelled = info.code === 'cancelled';
    final = await finish({ status: cancelled ? 'cancelled' : 'failed', error: info }, cancelled ? 'task.cancelled' : 'task.failed', {
      error: info,
      usage: totals.usage,
      steps: totals.steps,
    });
    return final;
  } finally {
    abort.dispose();
    await sandbox.release({ parked, ...(final ? { record: final } : {}) }).catch(() => {});
    const ids = final?.resourceSandboxIds;
    await resources.release({ parked: parked || retried, ...(ids ? { ids } : {}) });
  }
}

