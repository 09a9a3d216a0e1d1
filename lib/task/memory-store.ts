/** An in-process task store: for the library API without persistence, and for tests of the loop. */
import { DeepAgentError } from '../errors/index.js';
import { Redactor } from '../secrets/index.js';
import { leavesTerminalStatus, type EventType, type TaskEvent, type TaskRecord } from './schema.js';
import { compareListOrder, decodeTaskCursor, encodeTaskCursor, isAfterPosition } from './list-cursor.js';
import type { TaskListQuery, TaskPage, TaskStore } from './store.js';

/**
 * @example
 * const store = new MemoryTaskStore(redactorFromEnv(config.env));
 */
export class MemoryTaskStore implements TaskStore {
  private readonly records = new Map<string, TaskRecord>();
  private readonly events = new Map<string, TaskEvent[]>();
  constructor(private readonly redactor = new Redactor()) {}

  async create(record: TaskRecord) {
    if (record.idempotencyKey) {
      for (const r of this.records.values()) {
        if (r.idempotencyKey === record.idempotencyKey && r.accountId === record.accountId) return { record: structuredClone(r), created: false };
      }
    }
    if (this.records.has(record.id)) throw new DeepAgentError('conflict', `task ${record.id} already exists`);
    this.records.set(record.id, this.redactor.redact(record));
    return { record: structuredClone(this.records.get(record.id)!), created: true };
  }

  async get(id: string) {
    const r = this.records.get(id);
    return r ? structuredClone(r) : undefined;
  }

  async update(id: string, patch: Partial<TaskRecord>) {
    const r = this.records.get(id);
    if (!r) throw new DeepAgentError('not_found', `task ${id} does not exist`);
    if (leavesTerminalStatus(r, patch)) return structuredClone(r);
    const next = this.redactor.redact({ ...r, ...patch, id });
    this.records.set(id, next);
    return structuredClone(next);
  }

  async appendEvent(taskId: string, type: EventType, data: Record<string, unknown>) {
    const list = this.events.get(taskId) ?? [];
    const event: TaskEvent = { taskId, seq: list.length + 1, ts: new Date().toISOString(), type, data: this.redactor.redact(data) };
    list.push(event);
    this.events.set(taskId, list);
    return structuredClone(event);
  }

  async listEvents(taskId: string, after = 0, limit = 10_000) {
    return (this.events.get(taskId) ?? []).filter((e) => e.seq > after).slice(0, limit).map((e) => structuredClone(e));
  }

  async listTasks(query: TaskListQuery): Promise<TaskPage> {
    const after = query.cursor ? decodeTaskCursor(query.cursor) : undefined;
    const matching = [...this.records.values()]
      .filter(
        (r) =>
          (r.accountId ?? '') === query.accountId &&
          (!query.status || query.status.includes(r.status)) &&
          (!query.source || r.source === query.source) &&
          (!query.since || r.createdAt >= query.since) &&
          (!after || isAfterPosition(r, after)),
      )
      .sort(compareListOrder);
    const tasks = matching.slice(0, query.limit).map((r) => structuredClone(r));
    return { tasks, ...(matching.length > query.limit ? { nextCursor: encodeTaskCursor(tasks.at(-1)!) } : {}) };
  }
}

/**
 * Wraps a store so `listener` sees every event right after it is written (live progress in the CLI).
 *
 * @example
 * const observed = observeEvents(store, (e) => console.error(e.type));
 */
export function observeEvents(store: TaskStore, listener: (event: TaskEvent) => void): TaskStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'appendEvent') {
        return async (taskId: string, type: EventType, data: Record<string, unknown>) => {
          const event = await target.appendEvent(taskId, type, data);
          try {
            listener(event);
          } catch {
            /* a display problem must not fail the task */
          }
          return event;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
