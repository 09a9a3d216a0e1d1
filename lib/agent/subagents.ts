/**
 * Sub-agents: the `task` tool runs a conversation of its own, with a fresh context and the tools it asks for
 * (never `task` itself), inside the call's child context. Its answer is the tool result; its failure is a tool
 * error, except for what ends the whole task (a budget, a cancel, a suspension).
 */
import { toErrorInfo } from '../errors/index.js';
import { endsTask, type BudgetView, type CountedJournal } from './budgets.js';
import { isSuspension } from './journal.js';
import type { Conversation, RunContext } from './run-context.js';
import { errorResult, truncate, type ToolStepResult, type ToolUse } from './tool-results.js';
import type { Tool } from '../tools/index.js';

export async function runSubagent(run: RunContext, journal: CountedJournal, prefix: string, use: ToolUse, converse: Conversation): Promise<ToolStepResult> {
  const input = (use.input ?? {}) as { description?: string; prompt?: string; tools?: string[] };
  if (!input.prompt) return errorResult(use, 'invalid input for task: prompt is required');
  const subPrefix = `${prefix}sub:${use.id}:`;
  const accepts = (t: Tool) => t.name !== 'task' && (!input.tools || input.tools.includes(t.name));
  // Withheld tools stay withheld unless the sub-agent's tools name them.
  const subTools = run.allTools.filter((t) => accepts(t) && !(run.withheldTools?.has(t.name) && !input.tools?.includes(t.name)));
  // Its budget checks see the task's totals as they were when it started plus its own: sub-agents running side
  // by side do not see each other's turns, so each decides the same way on a replay.
  const start = { steps: run.totals.steps, costUsd: run.totals.usage.costUsd };
  const own = { steps: 0, costUsd: 0 };
  const view: BudgetView = { steps: () => start.steps + own.steps, costUsd: () => start.costUsd + own.costUsd };
  await journal.step(`${subPrefix}started`, async () => {
    await run.emit('subagent.started', { id: use.id, description: input.description ?? '', tools: subTools.map((t) => t.name) });
    return true;
  });
  try {
    const answer = await converse(journal, { prefix: subPrefix, agent: `sub:${use.id}`, prompt: input.prompt, tools: subTools, accepts, depth: 1, view, own });
    await journal.step(`${subPrefix}finished`, async () => {
      await run.emit('subagent.finished', { id: use.id, ok: true, answer: truncate(answer, 2000, '') });
      return true;
    });
    return { tool_use_id: use.id, content: truncate(answer || '(the sub-agent gave no answer)', run.limits.maxToolOutputChars, '') };
  } catch (e) {
    if (endsTask(e) || isSuspension(e) || run.options.rethrowTransient) throw e;
    const info = toErrorInfo(e);
    await journal.step(`${subPrefix}finished`, async () => {
      await run.emit('subagent.finished', { id: use.id, ok: false, error: info });
      return true;
    });
    return errorResult(use, `sub-agent failed: ${info.code}: ${info.message}`);
  }
}
