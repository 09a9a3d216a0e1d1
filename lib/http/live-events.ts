/**
 * Live reads of a task's event log for `GET /tasks/{id}/events`: an SSE stream where the runtime can stream
 * (serve), and a long-poll (`?after=SEQ&wait=SECONDS`) everywhere, API Gateway included, whose HTTP API
 * buffers whole responses and cannot stream.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { toErrorInfo } from '../errors/index.js';
import { isTerminal, type TaskEvent, type TaskEventNotifier, type TaskService } from '../task/index.js';

/** The longest long-poll: under API Gateway's 30 s integration timeout, with room for the reads. */
export const MAX_WAIT_SECONDS = 20;
const TERMINAL_EVENTS = new Set(['task.succeeded', 'task.failed', 'task.cancelled']);

export interface LiveEventOptions {
  /**
   * Answer `Accept: text/event-stream` with a live SSE stream. Off behind API Gateway (the client falls back to
   * the long-poll when the answer is JSON). @default false
   */
  streaming?: boolean;
  /** Wakes readers when this process writes an event; without it they only poll. */
  notifier?: TaskEventNotifier;
  /** Re-read interval for events written by other processes (or without a notifier). @default 1000 */
  fallbackPollMs?: number;
  /** SSE comment sent when nothing happened for this long, so proxies and clients see a live connection. @default 15000 */
  heartbeatMs?: number;
}

interface Reader {
  service: TaskService;
  accountId: string;
  taskId: string;
  options: LiveEventOptions;
}

/**
 * Events after `after`, waiting up to `waitMs` for the first one: woken by the notifier, else by the fallback poll.
 * The ticket is taken before each read, so an event written between the read and the wait still wakes it.
 */
export async function waitForEvents(r: Reader, after: number, limit: number, waitMs: number, signal?: AbortSignal): Promise<TaskEvent[]> {
  const deadline = Date.now() + waitMs;
  const poll = r.options.fallbackPollMs ?? 1_000;
  for (;;) {
    const ticket = r.options.notifier?.next(r.taskId);
    try {
      const events = await r.service.events(r.accountId, r.taskId, after, limit);
      const left = deadline - Date.now();
      if (events.length > 0 || left <= 0 || signal?.aborted) return events;
      // A finished task writes nothing more: answer now rather than at the deadline.
      if (isTerminal((await r.service.get(r.accountId, r.taskId)).status)) return events;
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      await Promise.race([
        ...(ticket ? [ticket.promise] : []),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(poll, left)))),
        new Promise<void>((resolve) => signal?.addEventListener('abort', (onAbort = () => resolve()), { once: true })),
      ]);
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) return [];
    } finally {
      ticket?.cancel();
    }
  }
}

/** True once the task will write nothing more: a terminal event was seen and the record agrees. */
async function ended(r: Reader, last: TaskEvent | undefined): Promise<boolean> {
  if (last && !TERMINAL_EVENTS.has(last.type)) return false;
  return isTerminal((await r.service.get(r.accountId, r.taskId)).status);
}

/**
 * Streams the events after `after` as SSE (`id:` = seq, `event:` = type, `data:` = the event as JSON), then each
 * new one as it is written; a `: heartbeat` comment every `heartbeatMs` of silence; ends after the terminal event.
 */
export function streamTaskEvents(c: Context, r: Reader, after: number): Response {
  const heartbeatMs = r.options.heartbeatMs ?? 15_000;
  return streamSSE(c, async (stream) => {
    const aborted = new AbortController();
    stream.onAbort(() => aborted.abort());
    c.req.raw.signal?.addEventListener('abort', () => aborted.abort(), { once: true });
    const { signal } = aborted;
    let last = after;
    try {
      while (!signal.aborted) {
        const events = await waitForEvents(r, last, 500, heartbeatMs, signal);
        if (signal.aborted) break;
        for (const e of events) {
          await stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e) });
          last = e.seq;
        }
        const tail = events.at(-1);
        if (tail ? TERMINAL_EVENTS.has(tail.type) && (await ended(r, tail)) : await ended(r, undefined)) break;
        if (!tail) await stream.write(': heartbeat\n\n');
      }
    } catch (e) {
      // The reader left (or the service is stopping): nobody to tell. Otherwise say why the stream ends.
      if (signal.aborted || stream.closed) return;
      const info = toErrorInfo(e);
      await stream.writeSSE({ event: 'error', data: JSON.stringify({ error: { code: info.code, message: info.message } }) });
    }
  });
}
