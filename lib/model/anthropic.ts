/**
 * The model client on `@anthropic-ai/sdk` (and `@anthropic-ai/bedrock-sdk` behind the same interface):
 * streaming, retries with backoff that honour `retry-after`, prompt-cache breakpoints, usage and cost.
 */
import Anthropic, { APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { DeepAgentError } from '../errors/index.js';
import { costOf } from './prices.js';
import { DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS, deferBehindApiSearch, resolveToolSearch, type ToolSearchPlan, type ToolSearchSetting } from './tool-search.js';
import type { MessageParam, ModelCallHooks, ModelClient, ModelRequest, ModelResponse } from './types.js';

/** The slice of the SDK client we use; both `Anthropic` and `AnthropicBedrock` have it. */
interface MessagesApi {
  messages: { stream(body: any, options?: { signal?: AbortSignal }): { on(event: 'text', cb: (t: string) => void): unknown; finalMessage(): Promise<Anthropic.Message> } };
}

export interface ModelClientOptions {
  /** Place cache_control breakpoints (default true). */
  promptCaching?: boolean;
  /** Retries after the first attempt (default 4). */
  maxRetries?: number;
  /** Base of the exponential backoff when the server gives no retry-after (default 500 ms). */
  retryBaseDelayMs?: number;
  /** Longest single wait, retry-after included (default 60 s). */
  maxRetryDelayMs?: number;
  /**
   * MCP schema tokens past which MCP tools are deferred (behind the API's tool search or the loop's own);
   * `false` always sends every schema (as `toolSearch: 'off'`). @default DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS (10,000)
   */
  toolSearchThresholdTokens?: number | false;
  /** Which tool search (`DEEP_AGENT_TOOL_SEARCH`). @default 'auto' */
  toolSearch?: ToolSearchSetting;
}

const RETRYABLE = (status: number | undefined) => status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
/**
 * Answers that the same request can never turn into a success (bad request, key, permission, model id, size):
 * their error is `retryable: false`, so neither this client, the loop nor a queue tries them again.
 */
const PERMANENT = new Set([400, 401, 403, 404, 413]);
const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * Adds cache breakpoints: the last tool (tools), the system prompt (tools + system), the conversation tail
 * (moving), and the previous user turn, so a cache entry written by the last request is found even when a
 * turn adds many blocks. At most 4, as the API allows.
 */
export function withCacheBreakpoints(req: Omit<ModelRequest, 'tools'> & { tools: readonly object[] }): { tools: any[]; system: any[]; messages: any[] } {
  // Deferred tools are not part of the prompt, so the breakpoint goes on the last tool that is.
  const last = req.tools.findLastIndex((t) => (t as { defer_loading?: boolean }).defer_loading !== true);
  const tools: any[] = req.tools.map((t, i) => (i === last ? { ...t, cache_control: EPHEMERAL } : { ...t }));
  const system: any[] = [{ type: 'text', text: req.system, cache_control: EPHEMERAL }];
  // Only the (at most two) marked messages are copied: copying every message each turn made the garbage of a
  // turn grow with the conversation.
  const messages: any[] = [...req.messages];
  const mark = (mi: number) => {
    const m = messages[mi];
    if (!m) return;
    const content: any[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (content.length === 0) return;
    const last = content.length - 1;
    messages[mi] = { ...m, content: content.map((b, j) => (j === last ? { ...b, cache_control: EPHEMERAL } : b)) };
  };
  mark(messages.length - 1);
  let prevUser = -1;
  for (let i = messages.length - 3; i >= 0; i--) if (messages[i].role === 'user') { prevUser = i; break; }
  if (prevUser >= 0) mark(prevUser);
  return { tools, system, messages };
}

function retryDelayMs(err: unknown, attempt: number, opts: Required<ModelClientOptions>): number {
  const headers = (err as { headers?: Headers }).headers;
  const ms = headers?.get?.('retry-after-ms');
  const s = headers?.get?.('retry-after');
  let delay: number | undefined;
  if (ms && !Number.isNaN(Number(ms))) delay = Number(ms);
  else if (s && !Number.isNaN(Number(s))) delay = Number(s) * 1000;
  else if (s && !Number.isNaN(Date.parse(s))) delay = Date.parse(s) - Date.now();
  if (delay === undefined || delay < 0) {
    const exp = opts.retryBaseDelayMs * 2 ** (attempt - 1);
    delay = exp / 2 + Math.random() * (exp / 2);
  }
  return Math.min(delay, opts.maxRetryDelayMs);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new DeepAgentError('cancelled', 'the task was cancelled'));
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(new DeepAgentError('cancelled', 'the task was cancelled')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** A model client over any SDK client with the Messages API. */
export class MessagesModelClient implements ModelClient {
  private readonly opts: Required<ModelClientOptions>;
  readonly toolSearch: ToolSearchPlan;
  constructor(
    private readonly sdk: MessagesApi,
    readonly model: string,
    readonly provider: 'anthropic' | 'bedrock',
    options: ModelClientOptions = {},
  ) {
    this.opts = { promptCaching: true, maxRetries: 4, retryBaseDelayMs: 500, maxRetryDelayMs: 60_000, toolSearchThresholdTokens: DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS, toolSearch: 'auto', ...options };
    const threshold = this.opts.toolSearchThresholdTokens;
    this.toolSearch =
      threshold === false
        ? { mode: 'off', thresholdTokens: Infinity }
        : { mode: resolveToolSearch(this.opts.toolSearch, provider, model), thresholdTokens: threshold };
  }

  async createMessage(request: ModelRequest, hooks: ModelCallHooks = {}): Promise<ModelResponse> {
    // In `client` mode the loop has withheld the MCP tools already; only `api` mode reshapes them here.
    const tools = this.toolSearch.mode === 'api' ? deferBehindApiSearch(request.tools, this.toolSearch.thresholdTokens) : request.tools;
    const shaped = this.opts.promptCaching
      ? withCacheBreakpoints({ ...request, tools })
      : { tools, system: request.system, messages: request.messages as MessageParam[] };
    const body = { model: this.model, max_tokens: request.maxTokens ?? 8192, ...shaped };
    for (let attempt = 1; ; attempt++) {
      if (hooks.signal?.aborted) throw new DeepAgentError('cancelled', 'the task was cancelled');
      try {
        const stream = this.sdk.messages.stream(body, { signal: hooks.signal });
        if (hooks.onTextDelta) stream.on('text', hooks.onTextDelta);
        const msg = await stream.finalMessage();
        const u = msg.usage;
        const tokens = {
          inputTokens: u.input_tokens ?? 0,
          outputTokens: u.output_tokens ?? 0,
          cacheReadTokens: u.cache_read_input_tokens ?? 0,
          cacheWriteTokens: u.cache_creation_input_tokens ?? 0,
        };
        return {
          content: msg.content,
          stopReason: msg.stop_reason,
          usage: { ...tokens, costUsd: costOf(this.model, tokens) },
          model: msg.model ?? this.model,
          ...((msg as { _request_id?: string })._request_id ? { requestId: (msg as { _request_id?: string })._request_id } : {}),
        };
      } catch (err) {
        if (hooks.signal?.aborted || err instanceof APIUserAbortError) throw new DeepAgentError('cancelled', 'the task was cancelled');
        const status = (err as { status?: number }).status;
        const apiError = err instanceof APIError;
        const message = apiError ? ((err as APIError).apiMessage ?? (err as Error).message) : (err as Error).message;
        if (!apiError || !RETRYABLE(status) || attempt > this.opts.maxRetries) {
          const code = status === 429 ? 'rate_limited' : 'model_error';
          const hint = status === 401 ? ' (check ANTHROPIC_API_KEY)' : '';
          const permanent = status !== undefined && PERMANENT.has(status);
          throw new DeepAgentError(code, `model call failed${status ? ` (${status})` : ''}: ${message}${hint}`, { status }, { cause: err, ...(permanent ? { retryable: false } : {}) });
        }
        const delayMs = retryDelayMs(err, attempt, this.opts);
        hooks.onRetry?.({ attempt, ...(status ? { status } : {}), delayMs, message });
        await sleep(delayMs, hooks.signal);
      }
    }
  }
}

/**
 * The model settings of the configuration (`config.model`), declared here so that lib/model needs nothing of
 * lib/config: any `Config` is a `ModelClientConfig`.
 */
export interface ModelClientConfig {
  model: {
    provider: 'anthropic' | 'bedrock';
    /** Model id (`DEEP_AGENT_MODEL`). */
    id: string;
    anthropicApiKey?: string | undefined;
    anthropicAuthToken?: string | undefined;
    anthropicBaseUrl?: string | undefined;
    awsRegion?: string | undefined;
    /** `DEEP_AGENT_TOOL_SEARCH`. @default 'auto' */
    toolSearch?: ToolSearchSetting | undefined;
  };
}

/**
 * Builds the model client that configuration asks for.
 *
 * @example
 * const model = await createModelClient(config);
 */
export async function createModelClient(config: ModelClientConfig, options: ModelClientOptions = {}): Promise<ModelClient> {
  const settings = config.model;
  options = { ...(settings.toolSearch ? { toolSearch: settings.toolSearch } : {}), ...options };
  if (settings.provider === 'bedrock') {
    // An optional peer dependency: CLI users of the Anthropic API do not download the AWS SDK.
    const { AnthropicBedrock } = await import('@anthropic-ai/bedrock-sdk').catch((e: unknown) => {
      if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
      throw new DeepAgentError('missing_config', 'DEEP_AGENT_MODEL_PROVIDER=bedrock needs the @anthropic-ai/bedrock-sdk package: npm install @anthropic-ai/bedrock-sdk');
    });
    const sdk = new AnthropicBedrock({ maxRetries: 0, ...(settings.awsRegion ? { awsRegion: settings.awsRegion } : {}) });
    const model = /^(?:[a-z]+\.)?anthropic\./.test(settings.id) ? settings.id : `global.anthropic.${settings.id}`;
    return new MessagesModelClient(sdk as unknown as MessagesApi, model, 'bedrock', options);
  }
  // The SDK would read ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN and ANTHROPIC_BASE_URL from the process environment itself;
  // we pass the values the configuration read once (null: "not set", so the SDK does not look again).
  const sdk = new Anthropic({
    apiKey: settings.anthropicApiKey ?? null,
    authToken: settings.anthropicAuthToken ?? null,
    baseURL: settings.anthropicBaseUrl ?? null,
    maxRetries: 0,
  });
  return new MessagesModelClient(sdk as unknown as MessagesApi, settings.id, 'anthropic', options);
}
