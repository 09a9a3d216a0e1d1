/**
 * The local runtime (everything `deep-agent serve` and the CLI keep on one machine). Its storage, all in one SQLite file (`<home>/deep-agent.db`, WAL, busy timeout) that the
 * CLI and a `serve` process share: task store, queue, step journal with approvals, schedules, and encrypted
 * credentials. Open the file once with `openDatabase(home)` and hand the connection to each class.
 *
 * @example
 * const db = openDatabase(config.home);
 * const store = new SqliteTaskStore(db, { redactor });
 * const queue = new SqliteQueue(db);
 * const journal = new SqliteJournal(db, taskId);
 */
export { openDatabase, transaction, systemClock, DATABASE_FILE, type Clock, type OpenDatabaseOptions } from './database.js';
export { SqliteTaskStore, type SqliteTaskStoreOptions, type TaskLog } from './task-store.js';
export {
  SqliteQueue,
  type QueueMessageInput,
  type ReceivedMessage,
  type DeadMessage,
  type QueueStats,
  type FailOutcome,
  type SqliteQueueOptions,
} from './queue.js';
export {
  SqliteJournal,
  SUSPENDED,
  ApprovalStore,
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalStoreOptions,
  type SqliteJournalOptions,
} from './journal.js';
export {
  ScheduleStore,
  ScheduleInputSchema,
  parseScheduleInput,
  parseRate,
  latestSlot,
  type Schedule,
  type ScheduleInput,
  type ScheduleState,
} from './schedules.js';
export { Scheduler, scheduleSlotKey, type SchedulerOptions, type FiredSlot } from './scheduler.js';
export { CredentialStore, loadSecretKey, parseSecretKey, SECRET_KEY_FILE, type CredentialEntry } from './credentials.js';
export { openLocalStorage, type LocalStorage, type LocalStorageOptions } from './storage.js';
export {
  startLocalService,
  ensureApiToken,
  readApiToken,
  LOCAL_ACCOUNT,
  API_TOKEN_FILE,
  type LocalService,
  type LocalServiceOptions,
  type WorkerSettings,
} from './service.js';
export { TaskWorker, type TaskWorkerOptions } from './worker.js';
