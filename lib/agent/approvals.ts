/**
 * The approval protocol: a tool call the policy flags waits for a person. The request, the wait and the
 * decision are journal operations of the call's own child context, so a replay finds them where they were;
 * the decision's step records when it came, and a decision that came after the deadline ends the task.
 */
import type { Tool } from '../tools/index.js';
import type { CountedJournal } from './budgets.js';
import type { RunContext } from './run-context.js';
import { errorResult, inputForLog, type ToolStepResult, type ToolUse } from './tool-results.js';

/** The approval id of a tool call: stable across replays (the tool_use id is checkpointed with its turn). */
export const approvalIdOf = (prefix: string, use: ToolUse) => `${prefix}${use.id}`.replace(/[^A-Za-z0-9_-]/g, '_');

/** The reason `tool` needs a person for this input, if it does. */
export const approvalReason = (run: RunContext, tool: Tool | undefined, input: unknown): string | undefined =>
  tool ? run.options.approvalPolicy?.(tool, input) : undefined;

/**
 * Asks a person about one call. Returns the error result the model sees when the call may not run, or
 * undefined when it was approved. Throws `budget_exceeded` when the decision came after the deadline.
 */
export async function askApproval(run: RunContext, journal: CountedJournal, prefix: string, use: ToolUse, reason: string): Promise<ToolStepResult | undefined> {
  if (!journal.canWaitForApproval) {
    return errorResult(use, `denied: ${use.name} needs a person's approval (${reason}), and this run cannot ask for one.`);
  }
  const approvalId = approvalIdOf(prefix, use);
  const request = { approvalId, taskId: run.taskId, tool: use.name, input: inputForLog(use.input), reason };
  await journal.step(`approval-requested:${approvalId}`, async () => {
    await run.store.update(run.taskId, { status: 'waiting_approval' });
    await run.emit('approval.requested', request);
    await run.sandbox.pause();
    await run.resources.pause();
    return true;
  });
  const decision = await journal.waitForApproval(`approval:${approvalId}`, request);
  await journal.step(`approval-resolved:${approvalId}`, async () => {
    await run.sandbox.resume();
    await run.resources.resume();
    await run.store.update(run.taskId, { status: 'running' });
    await run.emit('approval.resolved', { approvalId, tool: use.name, ...decision });
    return true;
  });
  // The resolved step checkpointed when the decision came: a late approval does not run the call.
  run.budget.checkDeadline(journal.lastAt);
  if (!decision.approve) {
    return errorResult(use, `denied by a person${decision.reason ? `: ${decision.reason}` : ''}. Do not retry this call; choose another way or finish.`);
  }
  return undefined;
}
