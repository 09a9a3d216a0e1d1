/**
 * The step journal: every model turn and tool call runs as a named step, so a runtime that persists the journal
 * (SQLite locally, Lambda durable functions on AWS) can resume a task without re-running finished steps.
 */

import type { ApprovalDecision, ApprovalRequest } from '../task/index.js';

export type { ApprovalDecision, ApprovalRequest };

export interface StepJournal {
  /**
   * Runs `fn` once for `name`. When the journal already holds a result for `name` (a replay), returns it
   * without calling `fn`. Results must be JSON-serialisable. A throw is not recorded: the step runs again on
   * the next attempt.
   */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Pauses until a person approves or denies a tool call. Runtimes without approvals leave it undefined, and
   * the loop then denies calls that need approval.
   */
  waitForApproval?(name: string, request: ApprovalRequest): Promise<ApprovalDecision>;
}

/**
 * A journal that only lives as long as the process: what `deep-agent run` uses.
 *
 * @example
 * const journal = new MemoryJournal();
 * await journal.step('model:1', () => model.createMessage(req));
 */
export class MemoryJournal implements StepJournal {
  readonly entries = new Map<string, unknown>();
  readonly executed: string[] = [];
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.entries.has(name)) return this.entries.get(name) as T;
    const value = await fn();
    this.executed.push(name);
    this.entries.set(name, structuredClone(value));
    return value;
  }
}
