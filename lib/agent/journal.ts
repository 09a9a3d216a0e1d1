/**
 * The step journal: every model turn and tool call runs as a named step, so a runtime that persists the journal
 * (SQLite locally, Lambda durable functions on AWS) can resume a task without re-running finished steps.
 */

import { DeepAgentError, hasCode } from '../errors/index.js';
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
   * Runs `fn` in a child context named `name`: the operations `fn` starts on the journal it is given are
   * numbered inside that context, so work that runs concurrently (the tool calls of one turn) replays with the
   * same operation ids whatever order it finished in. Child names must be unique within their parent.
   * Journals whose step names are already stable (they key steps by name) may run `fn` on themselves.
   */
  child<T>(name: string, fn: (journal: StepJournal) => Promise<T>): Promise<T>;
  /**
   * Pauses until a person approves or denies a tool call. Runtimes without approvals leave it undefined, and
   * the loop then denies calls that need approval. A journal that cannot wait in-process throws a
   * `RunSuspended` instead: the run stops there and a later run replays up to the decision.
   */
  waitForApproval?(name: string, request: ApprovalRequest): Promise<ApprovalDecision>;
  /**
   * How many operations the journal can hold for one run (Lambda durable functions cap the history of an
   * execution); the loop ends a task `budget_exceeded` before it would need more. Undefined: no cap.
   */
  readonly operationQuota?: number;
}

/** The error code of a `RunSuspended`. */
export const SUSPENDED = 'suspended';

/**
 * Thrown by a journal that parks a run instead of waiting (the local worker's journal waiting for a person):
 * the loop leaves the task as it is, closes nothing it will need again, and rethrows it to its runtime.
 *
 * @example
 * throw new RunSuspended(`task ${taskId} is parked until approval ${approvalId} is decided`, { approvalId });
 */
export class RunSuspended extends DeepAgentError {
  override readonly errorType = 'RunSuspended';
  constructor(message: string, data?: Record<string, unknown>) {
    super(SUSPENDED, message, data, { retryable: false });
    this.name = 'RunSuspended';
  }
}

/** True when `e` is a journal's suspension (also after serialisation: it goes by code). */
export const isSuspension = (e: unknown): boolean => hasCode(e, SUSPENDED);

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
  /** Steps are keyed by name, and the loop's names carry their context's prefix: a child is this journal. */
  child<T>(_name: string, fn: (journal: StepJournal) => Promise<T>): Promise<T> {
    return fn(this);
  }
}
