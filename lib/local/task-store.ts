/**
 * Task records and their ordered event log in SQLite: the local `TaskStore`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { DeepAgentError } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import { decodeTaskCursor, encodeTaskCursor, leavesTerminalStatus, type EventType, type TaskEvent, type TaskListQuery, type TaskPage, type TaskRecord, type TaskStore } from '../task/index.js';
import { transaction, type Clock, systemClock } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  account_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, created_at);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);
CREATE INDEX IF NOT EXISTS tasks_account_created ON tasks (account_id, created_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency ON tasks (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS task_events (
  task_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts TEXT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
`;

export interface SqliteTaskStoreOptions {
  /** Applied to every record and event before it is written. @default a redactor that only knows token shapes */
  redactor?: Redactor;
  /** Timestamps of events. @default Date.now */
  clock?: Clock;
}

/** The per-task JSON log written by {@link SqliteTaskStore.exportTaskLog}. */
export interface TaskLog {
  task: TaskRecord;
  events: TaskEvent[];
}

interface EventRow {
  task_id: string;
  seq: number;
  ts: string;
  type: string;
  data: string;
}

/**
 * Task records as JSON with indexed columns (status, createdAt, accountId, idempotencyKey unique per account)
 * and an event log keyed by `(task_id, seq)`. `seq` is allocated inside a write transaction, so appends from
 * several connections or processes stay strictly increasing without gaps.
 *
 * @example
 * const store = new SqliteTaskStore(openDatabase(home), { redactor: redactorFromEnv(config.env) });
 * const { record } = await store.create(newTaskRecord({ id, prompt, source: 'cli' }));
 * await store.appendEvent(record.id, 'task.queued', {});
 */
export class SqliteTaskStore implements TaskStore {
  private readonly redactor: Redactor;
  private readonly clock: Clock;

  constructor(
    private readonly db: DatabaseSync,
    options: SqliteTaskStoreOptions = {},
  ) {
    this.redactor = options.redactor ?? new Redactor();
    this.clock = options.clock ?? systemClock;
    db.exec(SCHEMA);
  }

  async create(record: TaskRecord): Promise<{ record: TaskRecord; created: boolean }> {
    const clean = this.redactor.redact(record);
    const account = clean.accountId ?? '';
    return transaction(this.db, () => {
      if (clean.idempotencyKey !== undefined) {
        const row = this.db
          .prepare('SELECT record FROM tasks WHERE account_id = ? AND idempotency_key = ?')
          .get(account, clean.idempotencyKey) as { record: string } | undefined;
        if (row) return { record: JSON.parse(row.record) as TaskRecord, created: false };
      }
      const inserted = this.db
        .prepare(
          `INSERT INTO tasks (id, status, created_at, account_id, idempotency_key, record) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO NOTHING`,
        )
        .run(clean.id, clean.status, clean.createdAt, account, clean.idempotencyKey ?? null, JSON.stringify(clean));
      if (Number(inserted.changes) === 0) throw new DeepAgentError('conflict', `task ${clean.id} already exists`);
      return { record: clean, created: true };
    });
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const row = this.db.prepare('SELECT record FROM tasks WHERE id = ?').get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as TaskRecord) : undefined;
  }

  /** Merges `patch` into the record (id, accountId and idempotencyKey cannot change) and returns the result. */
  async update(id: string, patch: Partial<TaskRecord>): Promise<TaskRecord> {
    return transaction(this.db, () => {
      const row = this.db.prepare('SELECT record FROM tasks WHERE id = ?').get(id) as { record: string } | undefined;
      if (!row) throw new DeepAgentError('not_found', `task ${id} does not exist`);
      const current = JSON.parse(row.record) as TaskRecord;
      // Terminal states are final: a run finishing after a cancel cannot turn `cancelled` into `succeeded`.
      if (leavesTerminalStatus(current, patch)) return current;
      const next: TaskRecord = this.redactor.redact({
        ...current,
        ...patch,
        id: current.id,
        accountId: current.accountId,
        idempotencyKey: current.idempotencyKey,
      });
      // Spreading an explicit `undefined` must remove the key, as JSON would.
      const stored = JSON.parse(JSON.stringify(next)) as TaskRecord;
      this.db.prepare('UPDATE tasks SET status = ?, record = ? WHERE id = ?').run(stored.status, JSON.stringify(stored), id);
      return stored;
    });
  }

  async appendEvent(taskId: string, type: EventType, data: Record<string, unknown>): Promise<TaskEvent> {
    const clean = this.redactor.redact(data);
    const ts = new Date(this.clock()).toISOString();
    return transaction(this.db, () => {
      const { next } = this.db
        .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM task_events WHERE task_id = ?')
        .get(taskId) as { next: number };
      this.db
        .prepare('INSERT INTO task_events (task_id, seq, ts, type, data) VALUES (?, ?, ?, ?, ?)')
        .run(taskId, next, ts, type, JSON.stringify(clean));
      return { taskId, seq: next, ts, type, data: clean };
    });
  }

  async listEvents(taskId: string, after = 0, limit = 1_000): Promise<TaskEvent[]> {
    const rows = this.db
      .prepare('SELECT task_id, seq, ts, type, data FROM task_events WHERE task_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(taskId, after, limit) as unknown as EventRow[];
    return rows.map((r) => ({ taskId: r.task_id, seq: r.seq, ts: r.ts, type: r.type as EventType, data: JSON.parse(r.data) }));
  }

  /** Every account's tasks, newest first (local tools and tests); the API pages with {@link listTasks}. */
  async list(options: { status?: TaskRecord['status']; limit?: number } = {}): Promise<TaskRecord[]> {
    const sql = `SELECT record FROM tasks ${options.status ? 'WHERE status = ?' : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...(options.status ? [options.status] : []), options.limit ?? 100) as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as TaskRecord);
  }

  async listTasks(query: TaskListQuery): Promise<TaskPage> {
    const where = ['account_id = ?'];
    const args: (string | number)[] = [query.accountId];
    if (query.status?.length) {
      where.push(`status IN (${query.status.map(() => '?').join(', ')})`);
      args.push(...query.status);
    }
    if (query.source) {
      where.push("json_extract(record, '$.source') = ?");
      args.push(query.source);
    }
    if (query.since) {
      where.push('created_at >= ?');
      args.push(query.since);
    }
    if (query.cursor) {
      const after = decodeTaskCursor(query.cursor);
      where.push('(created_at < ? OR (created_at = ? AND id > ?))');
      args.push(after.createdAt, after.createdAt, after.id);
    }
    // One row more than the page tells whether another page exists.
    const sql = `SELECT record FROM tasks WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id ASC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, query.limit + 1) as { record: string }[];
    const tasks = rows.slice(0, query.limit).map((r) => JSON.parse(r.record) as TaskRecord);
    return { tasks, ...(rows.length > query.limit ? { nextCursor: encodeTaskCursor(tasks.at(-1)!) } : {}) };
  }

  /**
   * Writes `<dir>/<taskId>.json` = `{ task, events }` (the seed's per-task JSON log) and returns its path.
   *
   * @example
   * const path = await store.exportTaskLog(taskId, join(home, 'logs'));
   */
  async exportTaskLog(taskId: string, dir: string): Promise<string> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(taskId)) throw new DeepAgentError('invalid_input', `task id "${taskId}" cannot name a log file`);
    const task = await this.get(taskId);
    if (!task) throw new DeepAgentError('not_found', `task ${taskId} does not exist`);
    const events: TaskEvent[] = [];
    for (let after = 0; ; ) {
      const page = await this.listEvents(taskId, after, 1_000);
      events.push(...page);
      if (page.length < 1_000) break;
      after = page[page.length - 1]!.seq;
    }
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${taskId}.json`);
    const log: TaskLog = { task, events };
    writeFileSync(path, `${JSON.stringify(log, null, 2)}\n`, { mode: 0o600 });
    return path;
  }

  /** The store does not own the connection; closing is the opener's job. */
  close(): void {}
}
