/**
 * Everything the local runtime stores, opened together on one connection.
 */
import type { DatabaseSync } from 'node:sqlite';
import { Redactor } from '../secrets/index.js';
import { CredentialStore, loadSecretKey } from './credentials.js';
import { openDatabase, type Clock, type OpenDatabaseOptions } from './database.js';
import { ApprovalStore, SqliteJournal, type SqliteJournalOptions } from './journal.js';
import { SqliteQueue } from './queue.js';
import { ScheduleStore } from './schedules.js';
import { SqliteTaskStore } from './task-store.js';

export interface LocalStorageOptions extends OpenDatabaseOptions {
  /** Applied before anything is written. @default token shapes only */
  redactor?: Redactor;
  /** The value of `DEEP_AGENT_SECRET_KEY`; without it `<home>/secret.key` is used (generated on first use). */
  secretKey?: string;
  /** @default 3 */
  maxReceiveCount?: number;
  /** @default Date.now */
  clock?: Clock;
}

export interface LocalStorage extends Disposable {
  db: DatabaseSync;
  tasks: SqliteTaskStore;
  queue: SqliteQueue;
  approvals: ApprovalStore;
  schedules: ScheduleStore;
  /** Opened on first use, so a key file is only created when credentials are needed. */
  readonly credentials: CredentialStore;
  /** The step journal of one task (sharing this connection). */
  journal(taskId: string, options?: Pick<SqliteJournalOptions, 'pollIntervalMs' | 'signal'>): SqliteJournal;
  close(): void;
}

/**
 * Opens `<home>/deep-agent.db` and every store on it.
 *
 * @example
 * using storage = openLocalStorage(config.home, { redactor: redactorFromEnv(config.env), secretKey: config.serve.secretKey });
 * const { record } = await storage.tasks.create(newTaskRecord({ id, prompt, source: 'http' }));
 * storage.queue.send({ taskId: record.id });
 */
export function openLocalStorage(home: string, options: LocalStorageOptions = {}): LocalStorage {
  const db = openDatabase(home, options);
  const redactor = options.redactor ?? new Redactor();
  const clock = options.clock;
  let credentials: CredentialStore | undefined;
  const close = () => {
    if (db.isOpen) db.close();
  };
  return {
    db,
    tasks: new SqliteTaskStore(db, { redactor, clock }),
    queue: new SqliteQueue(db, { redactor, clock, maxReceiveCount: options.maxReceiveCount }),
    approvals: new ApprovalStore(db, { redactor, clock }),
    schedules: new ScheduleStore(db, { clock }),
    get credentials() {
      credentials ??= new CredentialStore(db, loadSecretKey({ home, secretKey: options.secretKey }), { clock });
      return credentials;
    },
    journal: (taskId, journalOptions = {}) => new SqliteJournal(db, taskId, { redactor, clock, ...journalOptions }),
    close,
    [Symbol.dispose]: close,
  };
}
