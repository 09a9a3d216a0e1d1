/** The task store port: task records and their ordered per-task event log. */
import type { EventType, TaskEvent, TaskRecord, TaskSource, TaskStatus } from './schema.js';

/** One page request of an account's tasks, newest first (validated by the task service). */
export interface TaskListQuery {
  /** Only this account's tasks ('' for records written without an account). */
  accountId: string;
  /** Any of these statuses. */
  status?: TaskStatus[];
  source?: TaskSource;
  /** ISO time: only tasks created at or after it. */
  since?: string;
  /** Page size, already bounded by the service. */
  limit: number;
  /** The opaque `nextCursor` of the previous page. */
  cursor?: string;
}

/** A page of tasks; `nextCursor` is absent on the last page (a page may be short and still have one). */
export interface TaskPage {
  tasks: TaskRecord[];
  nextCursor?: string;
}

export interface TaskStore {
  /** Creates a record. With an idempotency key already used (per account), returns the existing record and `created: false`. */
  create(record: TaskRecord): Promise<{ record: TaskRecord; created: boolean }>;
  get(id: string): Promise<TaskRecord | undefined>;
  /** Applies a patch and returns the new record; throws `not_found` for an unknown id. */
  update(id: string, patch: Partial<TaskRecord>): Promise<TaskRecord>;
  /** Appends an event with the next `seq` (strictly increasing per task). Secrets are redacted first. */
  appendEvent(taskId: string, type: EventType, data: Record<string, unknown>): Promise<TaskEvent>;
  /** Events with `seq > after`, in order. */
  listEvents(taskId: string, after?: number, limit?: number): Promise<TaskEvent[]>;
  /**
   * One account's tasks, newest first (createdAt descending, then id ascending), after `cursor`. A task created
   * while a client pages through sorts before its cursor, so paging returns every older task exactly once.
   * Throws `invalid_input` for a cursor it did not issue.
   */
  listTasks(query: TaskListQuery): Promise<TaskPage>;
  close?(): Promise<void> | void;
}

/** Where the agent loop writes events: a store bound to one task. */
export interface EventSink {
  emit(type: EventType, data: Record<string, unknown>): Promise<TaskEvent | void>;
}
