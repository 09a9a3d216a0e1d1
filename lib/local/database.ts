/**
 * The local runtime's single SQLite file. Every local store (tasks, queue, journal, schedules, credentials)
 * lives in `<home>/deep-agent.db` so that the CLI and a `serve` process can share it: WAL lets readers and
 * one writer work at once, and the busy timeout makes a second writer wait instead of failing.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** File name of the database inside `DEEP_AGENT_HOME`. */
export const DATABASE_FILE = 'deep-agent.db';

export interface OpenDatabaseOptions {
  /**
   * How long a connection waits for another connection's write lock, in milliseconds.
   * @default 10_000
   */
  busyTimeoutMs?: number;
}

/**
 * Opens (and creates when absent) `<home>/deep-agent.db` in WAL mode with a busy timeout.
 * Each store class creates its own tables on construction, so the caller only opens the file.
 *
 * @example
 * const db = openDatabase(config.home);
 * const store = new SqliteTaskStore(db, { redactor });
 */
export function openDatabase(home: string, options: OpenDatabaseOptions = {}): DatabaseSync {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const file = join(home, DATABASE_FILE);
  // The file holds prompts, results and encrypted credentials: owner-only from its first byte. SQLite gives
  // the -wal and -shm files the database file's mode; the chmod below also fixes files made before this rule.
  closeSync(openSync(file, 'a', 0o600));
  const db = new DatabaseSync(file, { timeout: options.busyTimeoutMs ?? 10_000 });
  db.exec('PRAGMA journal_mode = WAL');
  for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) chmodSync(path, 0o600);
  // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
  db.exec('PRAGMA synchronous = NORMAL');
  return db;
}

/**
 * Runs `fn` in a write transaction and returns its result; rolls back when it throws.
 * `BEGIN IMMEDIATE` takes the write lock up front, so two connections never deadlock upgrading a read lock
 * (which SQLite reports as SQLITE_BUSY without honouring the busy timeout). Nested calls use a savepoint.
 *
 * @example
 * const seq = transaction(db, () => nextSeq(db, taskId));
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  if (db.isTransaction) {
    db.exec('SAVEPOINT nested');
    try {
      const out = fn();
      db.exec('RELEASE nested');
      return out;
    } catch (e) {
      db.exec('ROLLBACK TO nested');
      db.exec('RELEASE nested');
      throw e;
    }
  }
  db.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (e) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/** A clock in milliseconds since the epoch; injectable so tests control time without sleeping. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
