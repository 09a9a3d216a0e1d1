/**
 * The plan-execute loop. The model plans with `write_todos`, then calls tools until it ends its turn or a budget
 * stops it. Every model turn and every tool call is a named journal step, and every event is emitted inside a
 * step, so a runtime that replays a task (SQLite journal, durable Lambda) neither re-runs finished work nor logs
 * it twice.
 */
import { DeepAgentError, hasCode, toErrorInfo } from '../errors/index.js';
import { addUsage, emptyUsage, isTerminal, type EventType, type PlanItem, type TaskRecord, type Usage } from '../task/index.js';
import type { ContentBlock, MessageParam, ModelResponse } from '../model/types.js';
import type { Sandbox } from '../sandbox/types.js';
import { builtinTools, executeSafely, toToolSpec, type Tool, type ToolContext, type ToolOutput } from '../tools/index.js';
import type { AgentLimits, RunTaskOptions } from './types.js';

export const DEFAULT_LIMITS: AgentLimits = {
  maxSteps: 50,
  maxCostUsd: 5,
  deadlineSeconds: 3600,
  toolConcurrency: 4,
  maxToolOutputChars: 20_000,
  maxTokens: 8192,
  compactAtTokens: 120_000,
};

const ELIDED = '[elided to save context:';
/** Model turns whose tool results are never elided by compaction. */
const KEEP_RECENT_TURNS = 4;

/** Characters of one tool output kept in the task log. */
const LOG_OUTPUT_CHARS = 256_000;

const SYSTEM_PROMPT = `You are deep-agent, an autonomous engineer that plans and executes developer workflows.

How you work:
- Start by writing a short plan with write_todos. Keep it current: mark an item in_progress when you start it and completed when it is done.
- Do the work with tools. Commands and files live in an isolated sandbox workspace; paths are relative to it. Commands have no network unless you pass network: true (install_packages always has network).
- Independent tool calls may be issued together in one turn; they run concurrently.
- Use the task tool to delegate a self-contained sub-task to a sub-agent with a fresh context.
- A tool error is information: read it, adjust, and go on.
- When the task is done, reply with a concise final answer (what you did, where the results are) and no tool call.`;

/** One tool call's result as the model will see it in the next request. */
interface ToolStepResult {
  tool_use_id: string;
  content: string | Array<{ type: 'text'; text: string } | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }>;
  is_error?: boolean;
}

interface ToolUse {
  id: string;
  name: string;
  input: unknown;
}

function truncate(text: string, max: number, note: string): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[truncated: ${text.length - max} more characters${note}]`;
}

function outputText(out: ToolOutput): string {
  const texts = out.content.map((c) => (c.type === 'text' ? c.text : `[image ${c.mimeType}]`));
  if (out.structuredContent !== undefined && !out.content.some((c) => c.type === 'text')) texts.push(JSON.stringify(out.structuredContent));
  return texts.join('\n');
}

/** Converts a tool output into the model's `tool_result`, truncating text. */
function toToolResult(id: string, out: ToolOutput, maxChars: number): ToolStepResult {
  const hasImage = out.content.some((c) => c.type === 'image');
  const base = { tool_use_id: id, ...(out.isError ? { is_error: true } : {}) };
  if (!hasImage) return { ...base, content: truncate(outputText(out), maxChars, '; the whole output is in the task log') || '(no output)' };
  return {
    ...base,
    content: out.content.map((c) =>
      c.type === 'text'
        ? { type: 'text' as const, text: truncate(c.text, maxChars, '') }
        : { type: 'image' as const, source: { type: 'base64' as const, media_type: c.mimeType, data: c.data } },
    ),
  };
}

/** Runs `fns` with at most `limit` at a time; each is *started as a step* in order, so step order is deterministic. */
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

/** A rough token count (4 characters a token), enough to decide when to compact. */
const estimateTokens = (messages: MessageParam[]): number => Math.ceil(JSON.stringify(messages).length / 4);

/**
 * Replaces the content of tool results older than the last few turns with a short note (the whole output stays
 * in the task log). Deterministic in `messages`, so a replay compacts exactly as the first run did.
 */
function compactToolResults(messages: MessageParam[]): { elided: number; savedChars: number } {
  const userTurns = messages.map((m, i) => (m.role === 'user' ? i : -1)).filter((i) => i > 0);
  const cutoff = userTurns[userTurns.length - KEEP_RECENT_TURNS] ?? 0;
  let elided = 0;
  let savedChars = 0;
  for (let i = 1; i < cutoff; i++) {
    const m = messages[i]!;
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    m.content = m.content.map((b) => {
      if (b.type !== 'tool_result') return b;
      if (typeof b.content === 'string' && b.content.startsWith(ELIDED)) return b;
      const size = typeof b.content === 'string' ? b.content.length : JSON.stringify(b.content ?? '').length;
      if (size <= 200) return b;
      elided++;
      savedChars += size;
      return { ...b, content: `${ELIDED} ${size} characters; the whole output is in the task log]` };
    });
  }
  return { elided, savedChars };
}

function textOf(content: ContentBlock[]): string {
  return content
    .filter((b): b is Extract<ContentBlock, { type: 'text' }> => b.type === 'text')
    .map((b) => b.text)
    .join('\n')
    .trim();
}

/**
 * Runs one task to its end and returns the final record. Never throws for a task failure: the record says
 * `failed` with an error code (e.g. `budget_exceeded`). With `rethrowTransient`, model and sandbox
 * infrastructure errors are thrown instead, leaving the task `running`, so a queue can retry it.
 *
 * @example
 * const record = await runTask({ taskId, store, model, sandboxProvider, journal: new MemoryJournal() });
 */
export async function runTask(options: RunTaskOptions & { rethrowTransient?: boolean }): Promise<TaskRecord> {
  const { taskId, store, model, sandboxProvider, journal } = options;
  const initial = await store.get(taskId);
  if (!initial) throw new DeepAgentError('not_found', `task ${taskId} does not exist`);
  if (isTerminal(initial.status)) return initial;

  const limits: AgentLimits = {
    ...DEFAULT_LIMITS,
    ...options.limits,
    ...(initial.budget?.maxSteps ? { maxSteps: initial.budget.maxSteps } : {}),
    ...(initial.budget?.maxCostUsd ? { maxCostUsd: initial.budget.maxCostUsd } : {}),
    ...(initial.budget?.deadlineSeconds ? { deadlineSeconds: initial.budget.deadlineSeconds } : {}),
  };
  const emit = async (type: EventType, data: Record<string, unknown>) => {
    await store.appendEvent(taskId, type, data);
  };

  // The run's own abort: the caller's signal, the deadline, or a cancel seen in the store.
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(new DeepAgentError('cancelled', 'the task was cancelled'));
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (options.signal?.aborted) onCallerAbort();
  const signal = controller.signal;

  const allTools = [...builtinTools(), ...(options.tools ?? [])];

  let sandboxPromise: Promise<Sandbox> | undefined;
  const getSandbox = () =>
    (sandboxPromise ??= (async () => {
      let created: Sandbox | undefined;
      const id = await journal.step('sandbox:create', async () => {
        created = await sandboxProvider.create({ taskId, metadata: { taskId, ...(initial.accountId ? { accountId: initial.accountId } : {}) } });
        return created.id;
      });
      if (created) return created;
      // A replay: reattach to the sandbox the first run created, where the provider can.
      return sandboxProvider.connect ? sandboxProvider.connect(id, { taskId }) : sandboxProvider.create({ taskId });
    })());

  let usage: Usage = initial.usage ?? emptyUsage();
  let steps = 0;
  let plan: PlanItem[] = initial.plan ?? [];

  const started = await journal.step('task:start', async () => {
    const startedAt = new Date().toISOString();
    await store.update(taskId, { status: 'running', startedAt, usage: emptyUsage(), steps: 0 });
    // How the sandbox's memory, process and disk limits are held here; the ones this host cannot hold are named.
    const sandboxLimits = await sandboxProvider.enforcedLimits?.().catch(() => undefined);
    const limitInfo = sandboxLimits
      ? { sandboxLimits, unenforcedSandboxLimits: Object.entries(sandboxLimits).filter(([, l]) => l.by === 'none').map(([name]) => name) }
      : {};
    await emit('task.started', { model: model.model, provider: model.provider, sandbox: sandboxProvider.name, ...limitInfo, tools: allTools.map((t) => t.name), ...options.startInfo });
    return { startedAt };
  });
  usage = emptyUsage();
  const deadlineAt = Date.parse(started.startedAt) + limits.deadlineSeconds * 1000;
  const deadlineTimer = setTimeout(
    () => controller.abort(new DeepAgentError('budget_exceeded', `the deadline of ${limits.deadlineSeconds} s passed`)),
    Math.max(0, deadlineAt - Date.now()),
  );

  const abortReason = (): DeepAgentError =>
    signal.reason instanceof DeepAgentError ? signal.reason : new DeepAgentError('cancelled', 'the task was cancelled');

  /** One model turn (or sub-agent turn) as a step. */
  const modelStep = (name: string, system: string, messages: MessageParam[], tools: Tool[], turn: number, agent: string) =>
    journal.step<ModelResponse>(name, async () => {
      const res = await model.createMessage(
        { system, messages, tools: tools.map(toToolSpec), maxTokens: limits.maxTokens },
        {
          signal,
          onRetry: (info) => void emit('task.retrying', { scope: 'model', turn, ...info }).catch(() => {}),
          ...(options.onTextDelta && agent === 'main' ? { onTextDelta: options.onTextDelta } : {}),
        },
      );
      const toolCalls = res.content.filter((b) => b.type === 'tool_use').map((b) => (b as { name: string }).name);
      await emit('model.response', {
        agent,
        turn,
        model: res.model,
        stopReason: res.stopReason,
        usage: res.usage,
        toolCalls,
        text: truncate(textOf(res.content), 2000, ''),
      });
      return res;
    });

  /** Executes one tool call (approval first when the policy asks for it). */
  const toolStep = async (prefix: string, use: ToolUse, tools: Map<string, Tool>, ctx: ToolContext, depth: number): Promise<ToolStepResult> => {
    const tool = tools.get(use.name);
    if (tool && tool.name === 'task' && depth === 0) return runSubagentStep(prefix, use);
    const reason = tool ? options.approvalPolicy?.(tool, use.input) : undefined;
    if (tool && reason) {
      const approvalId = `${prefix}${use.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
      const request = { approvalId, taskId, tool: use.name, input: use.input, reason };
      if (!journal.waitForApproval) {
        return { tool_use_id: use.id, is_error: true, content: `denied: ${use.name} needs a person's approval (${reason}), and this run cannot ask for one.` };
      }
      await journal.step(`approval-requested:${approvalId}`, async () => {
        await store.update(taskId, { status: 'waiting_approval' });
        await emit('approval.requested', request);
        // A cloud sandbox sleeps (and stops billing) while a person decides.
        if (sandboxPromise) await (await sandboxPromise).pause?.();
        return true;
      });
      const decision = await journal.waitForApproval(`approval:${approvalId}`, request);
      await journal.step(`approval-resolved:${approvalId}`, async () => {
        if (sandboxPromise) await (await sandboxPromise).resume?.();
        await store.update(taskId, { status: 'running' });
        await emit('approval.resolved', { approvalId, tool: use.name, ...decision });
        return true;
      });
      if (!decision.approve) {
        return { tool_use_id: use.id, is_error: true, content: `denied by a person${decision.reason ? `: ${decision.reason}` : ''}. Do not retry this call; choose another way or finish.` };
      }
    }
    return journal.step(`${prefix}tool:${use.id}`, async () => {
      const t0 = Date.now();
      await emit('tool.called', { id: use.id, name: use.name, input: use.input });
      const out: ToolOutput = tool ? await executeSafely(tool, use.input, ctx) : { content: [{ type: 'text', text: `unknown tool: ${use.name}` }], isError: true };
      const durationMs = Date.now() - t0;
      await emit('tool.result', {
        id: use.id,
        name: use.name,
        ok: !out.isError,
        durationMs,
        output: truncate(outputText(out), LOG_OUTPUT_CHARS, ' in the log'),
        ...(out.structuredContent !== undefined ? { structuredContent: out.structuredContent } : {}),
      });
      return toToolResult(use.id, out, limits.maxToolOutputChars);
    });
  };

  const baseCtx: ToolContext = {
    taskId,
    sandbox: getSandbox,
    signal,
    emit,
    setPlan: async (items) => {
      plan = items;
      await store.update(taskId, { plan });
      await emit('plan.updated', { plan });
    },
  };

  const checkBudget = () => {
    if (signal.aborted) throw abortReason();
    if (steps >= limits.maxSteps) throw new DeepAgentError('budget_exceeded', `the step budget of ${limits.maxSteps} model turns is used up`);
    if (usage.costUsd >= limits.maxCostUsd) throw new DeepAgentError('budget_exceeded', `the cost budget of $${limits.maxCostUsd} is used up ($${usage.costUsd.toFixed(4)})`);
    if (Date.now() >= deadlineAt) throw new DeepAgentError('budget_exceeded', `the deadline of ${limits.deadlineSeconds} s passed`);
  };

  /** The conversation loop shared by the main agent and sub-agents. */
  const converse = async (prefix: string, agent: string, prompt: string, tools: Tool[], depth: number): Promise<string> => {
    const byName = new Map(tools.map((t) => [t.name, t]));
    const system = options.instructions ? `${SYSTEM_PROMPT}\n\n${options.instructions}` : SYSTEM_PROMPT;
    const messages: MessageParam[] = [{ role: 'user', content: prompt }];
    const gate = bounded(limits.toolConcurrency);
    for (let turn = 1; ; turn++) {
      checkBudget();
      if (depth === 0 && turn > 1) {
        const now = await store.get(taskId);
        if (now?.status === 'cancelled') controller.abort(new DeepAgentError('cancelled', 'the task was cancelled'));
        if (signal.aborted) throw abortReason();
      }
      if (estimateTokens(messages) > limits.compactAtTokens) {
        const before = estimateTokens(messages);
        const { elided } = compactToolResults(messages);
        if (elided > 0) {
          await journal.step(`${prefix}compact:${turn}`, async () => {
            await emit('context.compacted', { agent, turn, elidedToolResults: elided, estimatedTokensBefore: before, estimatedTokensAfter: estimateTokens(messages) });
            return true;
          });
        }
      }
      const res = await modelStep(`${prefix}model:${turn}`, system, messages, tools, turn, agent);
      steps++;
      usage = addUsage(usage, res.usage);
      await store.update(taskId, { usage, steps });
      messages.push({ role: 'assistant', content: res.content as MessageParam['content'] });
      const uses = res.content.filter((b) => b.type === 'tool_use') as unknown as ToolUse[];
      if (uses.length === 0) return textOf(res.content);
      checkBudget();
      // Steps are *called* in order (deterministic step ids); the gate bounds how many run at once.
      const results = await Promise.all(uses.map((use) => gate(() => toolStep(prefix, use, byName, baseCtx, depth))));
      messages.push({ role: 'user', content: results.map((r) => ({ type: 'tool_result' as const, ...r })) as MessageParam['content'] });
    }
  };

  const runSubagentStep = async (prefix: string, use: ToolUse): Promise<ToolStepResult> => {
    const input = (use.input ?? {}) as { description?: string; prompt?: string; tools?: string[] };
    if (!input.prompt) return { tool_use_id: use.id, is_error: true, content: 'invalid input for task: prompt is required' };
    const subPrefix = `${prefix}sub:${use.id}:`;
    const subTools = allTools.filter((t) => t.name !== 'task' && (!input.tools || input.tools.includes(t.name)));
    await journal.step(`${subPrefix}started`, async () => {
      await emit('subagent.started', { id: use.id, description: input.description ?? '', tools: subTools.map((t) => t.name) });
      return true;
    });
    try {
      const answer = await converse(subPrefix, `sub:${use.id}`, input.prompt, subTools, 1);
      await journal.step(`${subPrefix}finished`, async () => {
        await emit('subagent.finished', { id: use.id, ok: true, answer: truncate(answer, 2000, '') });
        return true;
      });
      return { tool_use_id: use.id, content: truncate(answer || '(the sub-agent gave no answer)', limits.maxToolOutputChars, '') };
    } catch (e) {
      if (hasCode(e, 'budget_exceeded') || hasCode(e, 'cancelled') || options.rethrowTransient) throw e;
      const info = toErrorInfo(e);
      await journal.step(`${subPrefix}finished`, async () => {
        await emit('subagent.finished', { id: use.id, ok: false, error: info });
        return true;
      });
      return { tool_use_id: use.id, is_error: true, content: `sub-agent failed: ${info.code}: ${info.message}` };
    }
  };

  // A run parked on an approval (code `suspended`, from a journal that does not wait) ends here and resumes later.
  let parked = false;
  try {
    const answer = await converse('', 'main', initial.prompt, allTools, 0);
    return await journal.step('task:finish', async () => {
      const record = await store.update(taskId, { status: 'succeeded', result: { text: answer }, finishedAt: new Date().toISOString(), usage, steps, plan });
      await emit('task.succeeded', { usage, steps, costUsd: usage.costUsd });
      return record;
    });
  } catch (e) {
    const info = toErrorInfo(e);
    const transient = !['budget_exceeded', 'cancelled', 'invalid_input', 'missing_config'].includes(info.code);
    parked = info.code === 'suspended';
    if (options.rethrowTransient && transient) throw e;
    const cancelled = info.code === 'cancelled';
    return journal.step('task:finish', async () => {
      const record = await store.update(taskId, {
        status: cancelled ? 'cancelled' : 'failed',
        error: info,
        finishedAt: new Date().toISOString(),
        usage,
        steps,
        plan,
      });
      await emit(cancelled ? 'task.cancelled' : 'task.failed', { error: info, usage, steps });
      return record;
    });
  } finally {
    clearTimeout(deadlineTimer);
    options.signal?.removeEventListener('abort', onCallerAbort);
    // A parked run leaves a pausable (cloud) sandbox paused for the next run to reconnect; others are closed.
    if (sandboxPromise) await sandboxPromise.then((s) => (parked && s.pause ? undefined : s.close())).catch(() => {});
  }
}
