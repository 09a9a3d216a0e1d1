/**
 * A small client for the HTTP API, used by the CLI's `submit`, `status`, `logs`, `cancel`, `approve` and
 * `schedules`. The same client talks to a local `serve` or a deployed API.
 */
import { DeepAgentError } from '../errors/index.js';
import { isTerminal, type SubmitTask, type TaskEvent, type TaskPage, type TaskRecord } from '../task/index.js';
import { MAX_WAIT_SECONDS } from './live-events.js';

const LONG_POLL_SECONDS = MAX_WAIT_SECONDS;
const TERMINAL_EVENT_TYPES = new Set(['task.succeeded', 'task.failed', 'task.cancelled']);

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `data` of each SSE message in a byte stream (multi-line data joined by newlines; comments skipped).
 *
 * @example
 * for await (const data of sseData(res.body!)) console.log(JSON.parse(data));
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''));
      if (data.length) yield data.join('\n');
    }
  }
}

export interface ApiClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  token?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * @example
 * const api = new ApiClient({ url: 'http://127.0.0.1:8787', token });
 * const { taskId } = await api.submit({ prompt: 'say hi' });
 */
export class ApiClient {
  private readonly base: string;
  constructor(private readonly options: ApiClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  /**
   * One request. Connection refused becomes `unavailable` ("no deep-agent service at URL ..."); an error
   * answer becomes a DeepAgentError with its code and message.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await this.send(method, path, {
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await readJson(res)) as T };
  }

  /** One fetch with the token; maps connection failures to `unavailable` and error answers to their code. */
  private async send(method: string, path: string, init: { headers?: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<Response> {
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.base}${path}`, {
        method,
        ...init,
        headers: { ...init.headers, ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
      });
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'ECONNRESET' || cause === 'UND_ERR_SOCKET') {
        throw new DeepAgentError('unavailable', `no deep-agent service at ${this.base}; start one with deep-agent serve`);
      }
      throw new DeepAgentError('unavailable', `cannot reach ${this.base}: ${(e as Error).message}`);
    }
    if (!res.ok) {
      const err = ((await readJson(res)) as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new DeepAgentError(err?.code ?? `http_${res.status}`, err?.message ?? `${method} ${path} answered ${res.status}`, { status: res.status });
    }
    return res;
  }

  /**
   * Calls `onEvent` with each event after `after` as it is written, until the task's terminal event. Uses the
   * SSE stream where the service streams (serve), resuming with `Last-Event-ID` after a dropped connection;
   * elsewhere (API Gateway) the long-poll `?after=SEQ&wait=20`. Resolves with the seq of the last event.
   *
   * @example
   * await api.follow(taskId, { onEvent: (e) => console.log(e.type) });
   */
  async follow(taskId: string, options: { after?: number; onEvent(event: TaskEvent): void; signal?: AbortSignal; maxReconnects?: number }): Promise<number> {
    let last = options.after ?? 0;
    let failures = 0;
    const path = `/tasks/${encodeURIComponent(taskId)}/events`;
    for (;;) {
      let res: Response;
      try {
        res = await this.send('GET', `${path}?after=${last}&wait=${LONG_POLL_SECONDS}`, {
          headers: { accept: 'text/event-stream', ...(last > 0 ? { 'last-event-id': String(last) } : {}) },
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (e) {
        if (!(e instanceof DeepAgentError) || e.code !== 'unavailable' || ++failures > (options.maxReconnects ?? 5)) throw e;
        await new Promise((r) => setTimeout(r, 200 * failures));
        continue;
      }
      let terminal = false;
      const take = (e: TaskEvent) => {
        if (e.seq <= last) return; // never twice, whatever the server sends
        last = e.seq;
        failures = 0;
        options.onEvent(e);
        if (TERMINAL_EVENT_TYPES.has(e.type)) terminal = true;
      };
      if (/text\/event-stream/.test(res.headers.get('content-type') ?? '')) {
        try {
          for await (const data of sseData(res.body!)) take(JSON.parse(data) as TaskEvent);
        } catch (e) {
          if (options.signal?.aborted) throw e;
          // A dropped connection: resume from the last event seen.
        }
        if (terminal) return last;
        if (++failures > (options.maxReconnects ?? 5)) throw new DeepAgentError('unavailable', `the event stream of task ${taskId} kept closing`);
        continue;
      }
      const page = (await readJson(res)) as { events: TaskEvent[] };
      for (const e of page.events) take(e);
      if ((terminal || page.events.length === 0) && isTerminal((await this.get(taskId)).status)) return last;
    }
  }

  async submit(body: SubmitTask): Promise<{ taskId: string; status: string }> {
    return (await this.request<{ taskId: string; status: string }>('POST', '/tasks', body)).body;
  }
  /** One page of the caller's tasks, newest first; pass `nextCursor` back as `cursor` for the next. */
  async list(query: { status?: string[]; source?: string; since?: string; limit?: number; cursor?: string } = {}): Promise<TaskPage> {
    const params = new URLSearchParams();
    if (query.status?.length) params.set('status', query.status.join(','));
    if (query.source) params.set('source', query.source);
    if (query.since) params.set('since', query.since);
    if (query.limit) params.set('limit', String(query.limit));
    if (query.cursor) params.set('cursor', query.cursor);
    const qs = params.toString();
    return (await this.request<TaskPage>('GET', `/tasks${qs ? `?${qs}` : ''}`)).body;
  }
  async get(taskId: string): Promise<TaskRecord> {
    return (await this.request<TaskRecord>('GET', `/tasks/${encodeURIComponent(taskId)}`)).body;
  }
  async events(taskId: string, after = 0): Promise<TaskEvent[]> {
    return (await this.request<{ events: TaskEvent[] }>('GET', `/tasks/${encodeURIComponent(taskId)}/events?after=${after}`)).body.events;
  }
  async cancel(taskId: string): Promise<TaskRecord> {
    return (await this.request<TaskRecord>('POST', `/tasks/${encodeURIComponent(taskId)}/cancel`, {})).body;
  }
  async approve(taskId: string, approvalId: string, decision: { approve: boolean; reason?: string }): Promise<unknown> {
    return (await this.request('POST', `/tasks/${encodeURIComponent(taskId)}/approvals/${encodeURIComponent(approvalId)}`, decision)).body;
  }
  async listSchedules(): Promise<Array<Record<string, unknown>>> {
    return (await this.request<{ schedules: Array<Record<string, unknown>> }>('GET', '/schedules')).body.schedules;
  }
  async createSchedule(body: object): Promise<Record<string, unknown>> {
    return (await this.request<Record<string, unknown>>('POST', '/schedules', body)).body;
  }
  async deleteSchedule(id: string): Promise<void> {
    await this.request('DELETE', `/schedules/${encodeURIComponent(id)}`);
  }
  async listMcpServerDefinitions(): Promise<Array<Record<string, unknown>>> {
    return (await this.request<{ definitions: Array<Record<string, unknown>> }>('GET', '/mcp-server-definitions')).body.definitions;
  }
  async installMcpConnection(body: { definitionId: string; name?: string; credentials?: Record<string, string> }): Promise<Record<string, unknown>> {
    return (await this.request<Record<string, unknown>>('POST', '/mcp-connections/install', body)).body;
  }
  async listMcpConnections(): Promise<Array<Record<string, unknown>>> {
    return (await this.request<{ connections: Array<Record<string, unknown>> }>('GET', '/mcp-connections')).body.connections;
  }
  async deleteMcpConnection(id: string): Promise<void> {
    await this.request('DELETE', `/mcp-connections/${encodeURIComponent(id)}`);
  }
}
