/**
 * The step journal and approvals in SQLite: a crashed worker resumes a task without re-running finished
 * steps, and a person resolves a paused tool call from another connection (the HTTP API).
 */
import type { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunSuspended, SUSPENDED, type ApprovalDecision, type ApprovalRequest, type StepJournal } from '../agent/index.js';
import { DeepAgentError } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import { transaction, type Clock, systemClock } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS journal_steps (
  task_id TEXT NOT NULL,
  name TEXT NOT NULL,
  result TEXT NOT NULL,
  finished_at INTEGER NOT NULL,
  PRIMARY KEY (task_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS approvals (
  approval_id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  name TEXT NOT NULL,
  tool TEXT NOT NULL,
  input TEXT NOT NULL,
  reason TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
  decision_reason TEXT,
  created_at INTEGER NOT NULL,
  resolved_at INTEGER,
  UNIQUE (task_id, name)
);
`;

export type ApprovalStatus = 'pending' | 'approved' | 'denied';

/**
 * The error code of a run that stopped to wait for a person (see `SqliteJournal.suspending`): the journal
 * contract's `RunSuspended`, kept here for callers that import it from the local runtime.
 */
export { SUSPENDED };

/** A stored approval request and, once resolved, its decision. Times are ISO strings. */
export interface ApprovalRecord {
  approvalId: string;
  taskId: string;
  /** The journal step name that asked (stable across replays). */
  name: string;
  tool: string;
  input: unknown;
  reason: string;
  status: ApprovalStatus;
  decisionReason?: string;
  createdAt: string;
  resolvedAt?: string;
}

interface ApprovalRow {
  approval_id: string;
  task_id: string;
  name: string;
  tool: string;
  input: string;
  reason: string;
  status: ApprovalStatus;
  decision_reason: string | null;
  created_at: number;
  resolved_at: number | null;
}

function toRecord(r: ApprovalRow): ApprovalRecord {
  return {
    approvalId: r.approval_id,
    taskId: r.task_id,
    name: r.name,
    tool: r.tool,
    input: JSON.parse(r.input),
    reason: r.reason,
    status: r.status,
    ...(r.decision_reason !== null ? { decisionReason: r.decision_reason } : {}),
    createdAt: new Date(r.created_at).toISOString(),
    ...(r.resolved_at !== null ? { resolvedAt: new Date(r.resolved_at).toISOString() } : {}),
  };
}

function toDecision(r: ApprovalRecord): ApprovalDecision {
  return { approve: r.status === 'approved', ...(r.decisionReason !== undefined ? { reason: r.decisionReason } : {}) };
}

export interface ApprovalStoreOptions {
  /** @default Date.now */
  clock?: Clock;
  /** Applied to tool inputs and reasons before they are written. @default token shapes only */
  redactor?: Redactor;
}

/**
 * Approval requests and decisions. The HTTP API uses it to resolve a paused tool call, from any connection.
 *
 * @example
 * const approvals = new ApprovalStore(db);
 * approvals.resolveApproval(approvalId, { approve: false, reason: 'not on main' });
 */
export class ApprovalStore {
  protected readonly clock: Clock;
  protected readonly redactor: Redactor;

  constructor(
    protected readonly db: DatabaseSync,
    options: ApprovalStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.redactor = options.redactor ?? new Redactor();
    db.exec(SCHEMA);
  }

  getApproval(approvalId: string): ApprovalRecord | undefined {
    const row = this.db.prepare('SELECT * FROM approvals WHERE approval_id = ?').get(approvalId) as unknown as ApprovalRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** A task's approvals, oldest first. */
  listApprovals(taskId: string): ApprovalRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM approvals WHERE task_id = ? ORDER BY created_at, rowid')
      .all(taskId) as unknown as ApprovalRow[];
    return rows.map(toRecord);
  }

  /**
   * Records a decision. Repeating the same decision is a no-op; a different decision on a resolved
   * approval is a `conflict`; an unknown id is `not_found`.
   */
  resolveApproval(approvalId: string, decision: ApprovalDecision): ApprovalRecord {
    const status: ApprovalStatus = decision.approve ? 'approved' : 'denied';
    const reason = decision.reason === undefined ? null : this.redactor.redactString(decision.reason);
    return transaction(this.db, () => {
      const current = this.getApproval(approvalId);
      if (!current) throw new DeepAgentError('not_found', `approval ${approvalId} does not exist`);
      if (current.status !== 'pending') {
        if (current.status === status) return current;
        throw new DeepAgentError('conflict', `approval ${approvalId} is already ${current.status}`);
      }
      this.db
        .prepare('UPDATE approvals SET status = ?, decision_reason = ?, resolved_at = ? WHERE approval_id = ?')
        .run(status, reason, this.clock(), approvalId);
      return this.getApproval(approvalId)!;
    });
  }
}

export interface SqliteJournalOptions extends ApprovalStoreOptions {
  /** How often `waitForApproval` looks for a decision. @default 250 */
  pollIntervalMs?: number;
  /** Aborts `waitForApproval` (throws `cancelled`). */
  signal?: AbortSignal;
}

/**
 * The step journal of one task, persisted in SQLite.
 *
 * `step(name, fn)` returns the stored result of a finished step without calling `fn`; otherwise it runs
 * `fn` and stores the result (a throw stores nothing, so the step runs again on the next attempt). Results
 * are redacted before they are stored, so a replayed step sees the redacted value.
 *
 * @example
 * const journal = new SqliteJournal(db, taskId, { signal });
 * const reply = await journal.step('model:1', () => model.createMessage(req));
 */
export class SqliteJournal extends ApprovalStore implements StepJournal {
  /** Names of the steps this instance actually ran (replayed steps are not listed). */
  readonly executed: string[] = [];
  private readonly pollIntervalMs: number;
  private readonly signal?: AbortSignal;

  constructor(
    db: DatabaseSync,
    readonly taskId: string,
    options: SqliteJournalOptions = {},
  ) {
    super(db, options);
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.signal = options.signal;
  }

  /** True when a result for `name` is stored. */
  has(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM journal_steps WHERE task_id = ? AND name = ?').get(this.taskId, name) !== undefined;
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const row = this.db.prepare('SELECT result FROM journal_steps WHERE task_id = ? AND name = ?').get(this.taskId, name) as
      | { result: string }
      | undefined;
    if (row) return (JSON.parse(row.result) as { value?: T }).value as T;
    const value = await fn();
    const stored = JSON.stringify({ value: this.redactor.redact(value) });
    // DO NOTHING: if another attempt finished the same step meanwhile, the first stored result stays the truth.
    this.db
      .prepare('INSERT INTO journal_steps (task_id, name, result, finished_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(this.taskId, name, stored, this.clock());
    this.executed.push(name);
    return value;
  }

  /**
   * Steps are keyed by `(task, name)`, and the loop names each step with its context's prefix
   * (`sub:<id>:model:2`, `tool:<id>`), so a step's identity never depends on timing: a child is this journal.
   */
  child<T>(_name: string, fn: (journal: StepJournal) => Promise<T>): Promise<T> {
    return fn(this);
  }

  /**
   * Stores a pending approval for step `name` unless one is stored already (a replay keeps the first request
   * and its id), and returns the stored approval with its current status.
   */
  requestApproval(name: string, request: ApprovalRequest): ApprovalRecord {
    return transaction(this.db, () => {
      const existing = this.approvalFor(name);
      if (existing) return existing;
      this.db
        .prepare(
          `INSERT INTO approvals (approval_id, task_id, name, tool, input, reason, status, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
        )
        .run(
          request.approvalId,
          this.taskId,
          name,
          request.tool,
          JSON.stringify(this.redactor.redact(request.input ?? null)),
          this.redactor.redactString(request.reason),
          this.clock(),
        );
      return this.approvalFor(name)!;
    });
  }

  /**
   * Stores a pending approval (once per step `name`) and resolves when a decision is recorded, from this or
   * any other connection. On a replay with a decision already stored, returns it at once.
   * Throws `cancelled` when the signal aborts.
   */
  async waitForApproval(name: string, request: ApprovalRequest, options: { signal?: AbortSignal } = {}): Promise<ApprovalDecision> {
    const signal = options.signal ?? this.signal;
    const { approvalId } = this.requestApproval(name, request);
    for (;;) {
      const current = this.getApproval(approvalId);
      if (current && current.status !== 'pending') return toDecision(current);
      if (signal?.aborted) throw new DeepAgentError('cancelled', `stopped while waiting for approval ${approvalId}`);
      try {
        await sleep(this.pollIntervalMs, undefined, signal ? { signal } : undefined);
      } catch {
        throw new DeepAgentError('cancelled', `stopped while waiting for approval ${approvalId}`);
      }
    }
  }

  /**
   * This journal as a run that parks instead of waiting, the way a durable function suspends on a callback:
   * `waitForApproval` stores the request and, while no decision is stored, throws `suspended` (data:
   * `{ approvalId }`) so the worker can let the task go; after the decision, a new run replays the finished
   * steps and gets the stored decision at once.
   *
   * @example
   * await runTask({ ...options, journal: storage.journal(taskId).suspending(), rethrowTransient: true })
   *   .catch((e) => { if (!isSuspension(e)) throw e; }); // parked: the approval route queues it again
   */
  suspending(): StepJournal {
    const parking: StepJournal = {
      step: (name, fn) => this.step(name, fn),
      child: (_name, fn) => fn(parking),
      waitForApproval: async (name, request) => {
        const approval = this.requestApproval(name, request);
        if (approval.status !== 'pending') return toDecision(approval);
        throw new RunSuspended(`task ${this.taskId} is parked until approval ${approval.approvalId} is decided`, {
          approvalId: approval.approvalId,
        });
      },
    };
    return parking;
  }

  /** The approval requested by step `name` of this task, if any. */
  approvalFor(name: string): ApprovalRecord | undefined {
    const row = this.db.prepare('SELECT * FROM approvals WHERE task_id = ? AND name = ?').get(this.taskId, name) as unknown as
      | ApprovalRow
      | undefined;
    return row ? toRecord(row) : undefined;
  }
}
