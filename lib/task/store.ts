/** The task store port: task records and their ordered per-task event log. */
import type { EventType, TaskEvent, TaskRecord } from './schema.js';

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
  list?(options?: { status?: TaskRecord['status']; limit?: number }): Promise<TaskRecord[]>;
  close?(): Promise<void> | void;
}

/** Where the agent loop writes events: a store bound to one task. */
export interface EventSink {
  emit(type: EventType, data: Record<string, unknown>): Promise<TaskEvent | void>;
}
