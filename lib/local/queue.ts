/**
 * The local task queue: a SQLite table with SQS semantics (visibility timeout, receive count, dead-letter
 * state), so the local worker behaves like the deployed dispatcher.
 */
import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { DeepAgentError } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import { transaction, type Clock, systemClock } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL,
  body TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  receipt TEXT,
  last_error TEXT,
  sent_at INTEGER NOT NULL,
  dead_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS queue_pending_task ON queue_messages (task_id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (state, visible_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt) WHERE receipt IS NOT NULL;
`;

export interface QueueMessageInput {
  taskId: string;
  /** Any JSON value the worker needs beside the task id. */
  body?: unknown;
}

export interface ReceivedMessage {
  messageId: number;
  taskId: string;
  body?: unknown;
  /** Valid until the message is received again; pass it to delete / changeVisibility / fail. */
  receiptHandle: string;
  /** 1 on the first delivery. */
  receiveCount: number;
  /** The error recorded by the previous attempt's `fail`, if any. */
  lastError?: string;
  sentAt: number;
}

export interface DeadMessage {
  messageId: number;
  taskId: string;
  body?: unknown;
  receiveCount: number;
  lastError?: string;
  sentAt: number;
  deadAt: number;
}

export interface QueueStats {
  /** Receivable now. */
  visible: number;
  /** Received and not yet deleted, released or expired. */
  inFlight: number;
  /** Sent with a delay that has not passed yet. */
  delayed: number;
  dead: number;
}

/** What `fail` did: the message will be delivered again, went to the dead state, or the receipt was stale. */
export type FailOutcome = { state: 'retry'; receiveCount: number } | { state: 'dead'; message: DeadMessage } | { state: 'stale' };

export interface SqliteQueueOptions {
  /**
   * A message received more than this many times goes to the dead state instead of being delivered.
   * @default 3
   */
  maxReceiveCount?: number;
  /** @default Date.now */
  clock?: Clock;
  /** Applied to message bodies and recorded errors before they are written. @default token shapes only */
  redactor?: Redactor;
}

interface Row {
  id: number;
  task_id: string;
  body: string | null;
  visible_at: number;
  receive_count: number;
  receipt: string | null;
  last_error: string | null;
  sent_at: number;
  dead_at: number | null;
}

const parseBody = (body: string | null): { body?: unknown } => (body === null ? {} : { body: JSON.parse(body) });

/**
 * A durable queue of task messages in SQLite.
 *
 * - `receive` increments the receive count and hides a message for the visibility timeout.
 * - A message is never pending twice for the same `taskId` (`send` dedupes).
 * - A message received more than `maxReceiveCount` times, or failed on its last allowed attempt, is dead,
 *   keeping its last error, until `redrive` (or forever).
 *
 * @example
 * const queue = new SqliteQueue(db, { maxReceiveCount: 3 });
 * queue.send({ taskId });
 * for (const m of queue.receive({ visibilityTimeoutSeconds: 60, max: 2 })) {
 *   try { await work(m.taskId); queue.delete(m.receiptHandle); }
 *   catch (e) { queue.fail(m.receiptHandle, String(e)); }
 * }
 */
export class SqliteQueue {
  readonly maxReceiveCount: number;
  private readonly clock: Clock;
  private readonly redactor: Redactor;

  constructor(
    private readonly db: DatabaseSync,
    options: SqliteQueueOptions = {},
  ) {
    this.maxReceiveCount = options.maxReceiveCount ?? 3;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      throw new DeepAgentError('invalid_input', 'maxReceiveCount must be a positive integer');
    }
    this.clock = options.clock ?? systemClock;
    this.redactor = options.redactor ?? new Redactor();
    db.exec(SCHEMA);
  }

  /**
   * Queues a message. When a message for the same task is already pending (visible, delayed or in flight),
   * nothing is added and the pending message's id is returned with `deduplicated: true`.
   */
  send(message: QueueMessageInput, opts: { delaySeconds?: number } = {}): { messageId: number; deduplicated: boolean } {
    const delay = opts.delaySeconds ?? 0;
    if (!(delay >= 0)) throw new DeepAgentError('invalid_input', 'delaySeconds must be >= 0');
    const now = this.clock();
    return transaction(this.db, () => {
      const existing = this.db
        .prepare("SELECT id FROM queue_messages WHERE task_id = ? AND state = 'pending'")
        .get(message.taskId) as { id: number } | undefined;
      if (existing) return { messageId: existing.id, deduplicated: true };
      const r = this.db
        .prepare("INSERT INTO queue_messages (task_id, body, state, visible_at, sent_at) VALUES (?, ?, 'pending', ?, ?)")
        .run(message.taskId, message.body === undefined ? null : JSON.stringify(this.redactor.redact(message.body)), now + delay * 1000, now);
      return { messageId: Number(r.lastInsertRowid), deduplicated: false };
    });
  }

  /**
   * Takes up to `max` visible messages, oldest first, and hides each for `visibilityTimeoutSeconds`.
   * A visible message that was already received `maxReceiveCount` times goes to the dead state instead.
   */
  receive(opts: { visibilityTimeoutSeconds: number; max?: number }): ReceivedMessage[] {
    const max = opts.max ?? 1;
    if (!(opts.visibilityTimeoutSeconds >= 0)) throw new DeepAgentError('invalid_input', 'visibilityTimeoutSeconds must be >= 0');
    const now = this.clock();
    return transaction(this.db, () => {
      const out: ReceivedMessage[] = [];
      const select = this.db.prepare(
        "SELECT * FROM queue_messages WHERE state = 'pending' AND visible_at <= ? ORDER BY visible_at, id LIMIT ?",
      );
      while (out.length < max) {
        const rows = select.all(now, max - out.length) as unknown as Row[];
        if (rows.length === 0) break;
        for (const row of rows) {
          if (row.receive_count >= this.maxReceiveCount) {
            this.kill(row.id, now, row.last_error ?? `not deleted within its visibility timeout after ${row.receive_count} receives`);
            continue;
          }
          const receipt = randomUUID();
          this.db
            .prepare('UPDATE queue_messages SET receive_count = receive_count + 1, receipt = ?, visible_at = ? WHERE id = ?')
            .run(receipt, now + opts.visibilityTimeoutSeconds * 1000, row.id);
          out.push({
            messageId: row.id,
            taskId: row.task_id,
            ...parseBody(row.body),
            receiptHandle: receipt,
            receiveCount: row.receive_count + 1,
            ...(row.last_error !== null ? { lastError: row.last_error } : {}),
            sentAt: row.sent_at,
          });
        }
      }
      return out;
    });
  }

  /** Removes a finished message. Returns false when the receipt is stale (the message was received again). */
  delete(receiptHandle: string): boolean {
    const r = this.db.prepare("DELETE FROM queue_messages WHERE receipt = ? AND state = 'pending'").run(receiptHandle);
    return Number(r.changes) > 0;
  }

  /**
   * Extends (heartbeat) or shortens the hidden period to `seconds` from now; 0 releases the message at once
   * (and invalidates the receipt). Returns false when the receipt is stale: the worker has lost the message.
   */
  changeVisibility(receiptHandle: string, seconds: number): boolean {
    if (!(seconds >= 0)) throw new DeepAgentError('invalid_input', 'seconds must be >= 0');
    const now = this.clock();
    const r =
      seconds === 0
        ? this.db
            .prepare("UPDATE queue_messages SET visible_at = ?, receipt = NULL WHERE receipt = ? AND state = 'pending'")
            .run(now, receiptHandle)
        : this.db
            .prepare("UPDATE queue_messages SET visible_at = ? WHERE receipt = ? AND state = 'pending'")
            .run(now + seconds * 1000, receiptHandle);
    return Number(r.changes) > 0;
  }

  /**
   * Records a failed attempt: the message becomes visible again after `retryDelaySeconds` (default 0), or,
   * when it has used its `maxReceiveCount` receives, goes to the dead state with `error` as its last error.
   * `permanent` (an error that cannot succeed on another attempt) sends it to the dead state at once.
   */
  fail(receiptHandle: string, error: string, opts: { retryDelaySeconds?: number; permanent?: boolean } = {}): FailOutcome {
    const now = this.clock();
    error = this.redactor.redactString(error);
    return transaction(this.db, () => {
      const row = this.db
        .prepare("SELECT * FROM queue_messages WHERE receipt = ? AND state = 'pending'")
        .get(receiptHandle) as unknown as Row | undefined;
      if (!row) return { state: 'stale' } as const;
      if (opts.permanent || row.receive_count >= this.maxReceiveCount) {
        this.kill(row.id, now, error);
        return { state: 'dead', message: this.deadMessage(row.id) } as const;
      }
      this.db
        .prepare('UPDATE queue_messages SET last_error = ?, receipt = NULL, visible_at = ? WHERE id = ?')
        .run(error, now + (opts.retryDelaySeconds ?? 0) * 1000, row.id);
      return { state: 'retry', receiveCount: row.receive_count } as const;
    });
  }

  /** Dead messages, oldest first. */
  listDead(limit = 100): DeadMessage[] {
    const rows = this.db
      .prepare("SELECT * FROM queue_messages WHERE state = 'dead' ORDER BY dead_at, id LIMIT ?")
      .all(limit) as unknown as Row[];
    return rows.map(toDead);
  }

  /** Moves a dead message back to the queue with a fresh receive count (like an SQS DLQ redrive). */
  redrive(messageId: number): boolean {
    const now = this.clock();
    return transaction(this.db, () => {
      const row = this.db.prepare("SELECT task_id FROM queue_messages WHERE id = ? AND state = 'dead'").get(messageId) as
        | { task_id: string }
        | undefined;
      if (!row) return false;
      const pending = this.db.prepare("SELECT 1 FROM queue_messages WHERE task_id = ? AND state = 'pending'").get(row.task_id);
      if (pending) {
        this.db.prepare('DELETE FROM queue_messages WHERE id = ?').run(messageId);
        return true;
      }
      this.db
        .prepare(
          "UPDATE queue_messages SET state = 'pending', receive_count = 0, receipt = NULL, visible_at = ?, dead_at = NULL WHERE id = ?",
        )
        .run(now, messageId);
      return true;
    });
  }

  stats(): QueueStats {
    const now = this.clock();
    const r = this.db
      .prepare(
        `SELECT
           COALESCE(SUM(state = 'pending' AND visible_at <= ?1), 0) AS visible,
           COALESCE(SUM(state = 'pending' AND visible_at > ?1 AND receipt IS NOT NULL), 0) AS inFlight,
           COALESCE(SUM(state = 'pending' AND visible_at > ?1 AND receipt IS NULL), 0) AS delayed,
           COALESCE(SUM(state = 'dead'), 0) AS dead
         FROM queue_messages`,
      )
      .get(now) as unknown as QueueStats;
    return { visible: r.visible, inFlight: r.inFlight, delayed: r.delayed, dead: r.dead };
  }

  private kill(id: number, now: number, error: string): void {
    this.db
      .prepare("UPDATE queue_messages SET state = 'dead', last_error = ?, receipt = NULL, dead_at = ? WHERE id = ?")
      .run(error, now, id);
  }

  private deadMessage(id: number): DeadMessage {
    return toDead(this.db.prepare('SELECT * FROM queue_messages WHERE id = ?').get(id) as unknown as Row);
  }
}

function toDead(row: Row): DeadMessage {
  return {
    messageId: row.id,
    taskId: row.task_id,
    ...parseBody(row.body),
    receiveCount: row.receive_count,
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    sentAt: row.sent_at,
    deadAt: row.dead_at ?? row.sent_at,
  };
}
