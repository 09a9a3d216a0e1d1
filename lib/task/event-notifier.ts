/**
 * In-process wake-ups for readers of a task's event log: the store's writer publishes each appended event, and
 * a stream or long-poll waiting on that task reads the log again at once instead of polling it in a loop.
 */
import type { TaskEvent } from './schema.js';

/** A pending wake-up for one task: `promise` resolves at the next event written for it. */
export interface EventTicket {
  promise: Promise<void>;
  cancel(): void;
}

/**
 * @example
 * const notifier = new TaskEventNotifier();
 * const store = observeEvents(sqliteStore, (e) => notifier.publish(e));
 * const ticket = notifier.next(taskId); // take it before reading, so no event slips between read and wait
 * const events = await store.listEvents(taskId, after);
 * if (events.length === 0) await ticket.promise;
 */
export class TaskEventNotifier {
  private readonly waiting = new Map<string, Set<() => void>>();

  publish(event: Pick<TaskEvent, 'taskId'>): void {
    const wakers = this.waiting.get(event.taskId);
    if (!wakers) return;
    this.waiting.delete(event.taskId);
    for (const wake of wakers) wake();
  }

  next(taskId: string): EventTicket {
    let wake!: () => void;
    const promise = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiting.get(taskId) ?? new Set();
    set.add(wake);
    this.waiting.set(taskId, set);
    return {
      promise,
      cancel: () => {
        const current = this.waiting.get(taskId);
        current?.delete(wake);
        if (current?.size === 0) this.waiting.delete(taskId);
      },
    };
  }

  /** Readers waiting now (for tests: a finished stream must leave none behind). */
  get waiters(): number {
    let n = 0;
    for (const s of this.waiting.values()) n += s.size;
    return n;
  }
}
