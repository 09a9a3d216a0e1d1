/**
 * Budgets of a run: model turns, cost, the deadline, and the journal's operation quota, plus the run's abort.
 *
 * Every decision here must come out the same on a replay, so it reads only what a journal checkpointed: the
 * deadline is compared with the times steps recorded (never with the clock of the replaying process), and the
 * operations are counted per journal context, each child with a share fixed when it starts.
 */
import { DeepAgentError, hasCode } from '../errors/index.js';
import type { Budget } from '../task/index.js';
import type { StepJournal } from './journal.js';
import type { AgentLimits } from './types.js';

export const DEFAULT_LIMITS: AgentLimits = {
  maxSteps: 50,
  maxCostUsd: 5,
  deadlineSeconds: 3600,
  toolConcurrency: 16,
  maxToolCallsPerTurn: 32,
  maxToolOutputChars: 20_000,
  maxTokens: 8192,
  compactAtTokens: 120_000,
};

/** The limits of one run: the task's own budget wins over the runtime's limits, which win over the defaults. */
export function resolveLimits(limits: Partial<AgentLimits> | undefined, budget: Budget | undefined): AgentLimits {
  return {
    ...DEFAULT_LIMITS,
    ...limits,
    ...(budget?.maxSteps ? { maxSteps: budget.maxSteps } : {}),
    ...(budget?.maxCostUsd ? { maxCostUsd: budget.maxCostUsd } : {}),
    ...(budget?.deadlineSeconds ? { deadlineSeconds: budget.deadlineSeconds } : {}),
  };
}

/**
 * Journal operations each kind of work costs, counted the way Lambda durable functions count them (a child
 * context is one operation; `waitForCallback` is a context, a callback and a step).
 */
export const OPERATIONS = {
  step: 1,
  child: 1,
  approvalWait: 3,
  /** a model turn: its compaction step (when needed) and its model step */
  turn: 2,
  /** a plain tool call: its child and its step */
  tool: 2,
  /** requested, the wait, resolved */
  approval: 5,
  /** a sub-agent at the least: its child, started, one turn, finished */
  subagent: 5,
} as const;

/** Operations every task uses besides its turns: `task:start`, `task:finish`, and one spare. */
export const FIXED_OPERATIONS = 3;
/** The cheapest model turn that does something: its model step and one tool call. */
export const OPERATIONS_PER_STEP = OPERATIONS.turn - 1 + OPERATIONS.tool;

/**
 * The largest `maxSteps` whose turns fit in `operations` journal operations even at their cheapest.
 *
 * @example
 * if (budget.maxSteps > maxStepsWithin(DURABLE_OPERATION_QUOTA)) throw new DeepAgentError('invalid_input', '...');
 */
export const maxStepsWithin = (operations: number): number => Math.max(0, Math.floor((operations - FIXED_OPERATIONS) / OPERATIONS_PER_STEP));

/** Errors that end the whole task wherever they are thrown (a sub-agent does not turn them into a tool error). */
export const endsTask = (e: unknown): boolean => hasCode(e, 'budget_exceeded') || hasCode(e, 'cancelled');

export const operationsExceeded = (limit: number) =>
  new DeepAgentError('budget_exceeded', `the operation budget of the journal is used up (${limit} operations): the task stops before its history could not be recorded`);

/**
 * A journal context that counts the operations it starts and remembers the latest time a step checkpointed.
 * A child gets its own counter with a limit fixed when it starts; its count and time come back with its
 * (checkpointed) result, so the parent's figures are the same on every replay.
 *
 * @example
 * const root = new CountedJournal(journal, { limit: 2_997, lastAt: startedAtMs, clock: Date.now, work: signal });
 * const res = await root.step('model:1', () => model.createMessage(req));
 */
export class CountedJournal {
  used = 0;
  lastAt: number;
  readonly limit: number;
  private readonly clock: () => number;
  private readonly work: AbortSignal;

  constructor(
    readonly journal: StepJournal,
    options: { limit: number; lastAt: number; clock: () => number; work: AbortSignal },
  ) {
    this.limit = options.limit;
    this.lastAt = options.lastAt;
    this.clock = options.clock;
    this.work = options.work;
  }

  /** Operations still free in this context. */
  get remaining(): number {
    return this.limit - this.used;
  }

  get canWaitForApproval(): boolean {
    return this.journal.waitForApproval !== undefined;
  }

  /** A journal step whose result carries the time it finished. A step cut short by the run's abort throws why. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.used += OPERATIONS.step;
    const done = await this.journal.step<{ value: T; at: number }>(name, async () => {
      try {
        return { value: await fn(), at: this.clock() };
      } catch (e) {
        throw this.work.aborted && this.work.reason instanceof DeepAgentError ? this.work.reason : e;
      }
    });
    this.lastAt = Math.max(this.lastAt, done.at);
    return done.value;
  }

  async waitForApproval(...args: Parameters<NonNullable<StepJournal['waitForApproval']>>) {
    this.used += OPERATIONS.approvalWait;
    return this.journal.waitForApproval!(...args);
  }

  /** Runs `fn` in a child context with `limit` operations of its own. */
  async child<T>(name: string, limit: number, fn: (journal: CountedJournal) => Promise<T>): Promise<T> {
    this.used += OPERATIONS.child;
    type Outcome = { used: number; at: number } & ({ value: T } | { error: ReturnType<DeepAgentError['toObject']> });
    const outcome = await this.journal.child<Outcome>(name, async (inner) => {
      const sub = new CountedJournal(inner, { limit, lastAt: this.lastAt, clock: this.clock, work: this.work });
      try {
        const value = await fn(sub);
        return { value, used: sub.used, at: sub.lastAt };
      } catch (e) {
        if (e instanceof DeepAgentError) return { error: e.toObject(), used: sub.used, at: sub.lastAt };
        throw e;
      }
    });
    this.used += outcome.used;
    this.lastAt = Math.max(this.lastAt, outcome.at);
    if ('error' in outcome) throw DeepAgentError.fromObject(outcome.error);
    return outcome.value;
  }
}

/** The totals a budget check compares: the whole task's, or a sub-agent's start figures plus its own. */
export interface BudgetView {
  steps(): number;
  costUsd(): number;
}

/**
 * The step, cost and time budgets of a run. `check` throws `budget_exceeded` (or `cancelled` when the caller
 * aborted) and reads nothing that differs on a replay.
 */
export class RunBudget {
  readonly deadlineAt: number;
  constructor(
    readonly limits: AgentLimits,
    startedAtMs: number,
    private readonly cancelled: () => DeepAgentError | undefined,
  ) {
    this.deadlineAt = startedAtMs + limits.deadlineSeconds * 1000;
  }

  deadlineError(): DeepAgentError {
    return new DeepAgentError('budget_exceeded', `the deadline of ${this.limits.deadlineSeconds} s passed`);
  }

  /** Throws when the deadline passed by `at` (a checkpointed time). */
  checkDeadline(at: number): void {
    if (at >= this.deadlineAt) throw this.deadlineError();
  }

  /** Cancel, steps, cost, deadline, and `room` operations free in the journal (a turn's, before a turn). */
  check(view: BudgetView, journal: CountedJournal, room: number): void {
    const cancelled = this.cancelled();
    if (cancelled) throw cancelled;
    const { maxSteps, maxCostUsd } = this.limits;
    if (view.steps() >= maxSteps) throw new DeepAgentError('budget_exceeded', `the step budget of ${maxSteps} model turns is used up`);
    if (view.costUsd() >= maxCostUsd) throw new DeepAgentError('budget_exceeded', `the cost budget of $${maxCostUsd} is used up ($${view.costUsd().toFixed(4)})`);
    this.checkDeadline(journal.lastAt);
    if (journal.remaining < room) throw operationsExceeded(journal.limit);
  }
}

/** A turn's tool calls as the budget sees them. */
export type CallKind = 'tool' | 'approval' | 'subagent';

/** The fewest operations a call of `kind` needs, its child included. */
export const minimumCost = (kind: CallKind) => (kind === 'subagent' ? OPERATIONS.subagent : kind === 'approval' ? OPERATIONS.tool + OPERATIONS.approval : OPERATIONS.tool);

/**
 * How many of a turn's calls run, and how many operations each sub-agent gets: calls are taken in order while
 * their cheapest cost fits in `available` (and at most `maxCalls`); what is left is shared by the sub-agents.
 *
 * @example
 * const { run, subagentLimit } = allotOperations(['tool', 'subagent'], journal.remaining - reserve, 32);
 */
export function allotOperations(kinds: CallKind[], available: number, maxCalls: number): { run: number; subagentLimit: number } {
  let run = 0;
  let cost = 0;
  for (const kind of kinds.slice(0, maxCalls)) {
    if (cost + minimumCost(kind) > available) break;
    cost += minimumCost(kind);
    run++;
  }
  const subagents = kinds.slice(0, run).filter((k) => k === 'subagent').length;
  const share = subagents === 0 ? 0 : Math.floor((available - cost) / subagents);
  // The sub-agent's own context holds all but its child operation, which the parent counts.
  return { run, subagentLimit: OPERATIONS.subagent - OPERATIONS.child + share };
}

/** What a sub-agent's context keeps for its `finished` step. */
export const SUBAGENT_RESERVE = OPERATIONS.step;

/** What the main context keeps for `task:finish`. */
export const FINISH_RESERVE = OPERATIONS.step;

/**
 * The run's abort: the caller's signal (a cancel) and the deadline timer. Work in flight (a model call, a
 * command) sees `signal`; budget decisions ask `cancelled()`, which only the caller sets, never the timer.
 */
export class RunAbort {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private cancel: DeepAgentError | undefined;
  private readonly onCaller = () => this.cancelNow();

  constructor(private readonly caller?: AbortSignal) {
    caller?.addEventListener('abort', this.onCaller, { once: true });
    if (caller?.aborted) this.onCaller();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Set when the caller (or a cancel seen in the store) stopped the run. */
  cancelled(): DeepAgentError | undefined {
    return this.cancel;
  }

  cancelNow(): void {
    this.cancel ??= new DeepAgentError('cancelled', 'the task was cancelled');
    this.controller.abort(this.cancel);
  }

  /** Aborts work in flight when the deadline passes (the decision itself is taken from checkpointed times). */
  armDeadline(deadlineAt: number, now: number, error: () => DeepAgentError): void {
    this.timer = setTimeout(() => this.controller.abort(error()), Math.max(0, deadlineAt - now));
    this.timer.unref();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCaller);
  }
}
