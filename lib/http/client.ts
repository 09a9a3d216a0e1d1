/**
 * A small client for the HTTP API, used by the CLI's `submit`, `status`, `logs`, `cancel`, `approve` and
 * `schedules`. The same client talks to a local `serve` or a deployed API.
 */
import { DeepAgentError } from '../errors/index.js';
import type { TaskEvent, TaskPage, TaskRecord } from '../task/index.js';

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
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(`${this.base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      if (cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'ECONNRESET' || cause === 'UND_ERR_SOCKET') {
        throw new DeepAgentError('unavailable', `no deep-agent service at ${this.base}; start one with deep-agent serve`);
      }
      throw new DeepAgentError('unavailable', `cannot reach ${this.base}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new DeepAgentError(err?.code ?? `http_${res.status}`, err?.message ?? `${method} ${path} answered ${res.status}`, { status: res.status });
    }
    return { status: res.status, body: parsed as T };
  }

  async submit(body: { prompt: string; idempotencyKey?: string; budget?: object; mcpServers?: string[] }): Promise<{ taskId: string; status: string }> {
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
