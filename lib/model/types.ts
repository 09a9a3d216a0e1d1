/** The model port: one small interface over the Anthropic API and Bedrock. */
import type Anthropic from '@anthropic-ai/sdk';
import type { Usage } from '../task/index.js';
import type { ToolSearchPlan } from './tool-search.js';

export type MessageParam = Anthropic.MessageParam;
export type ContentBlock = Anthropic.ContentBlock;
export type ContentBlockParam = Anthropic.ContentBlockParam;

/** A tool as the model sees it. */
export interface ToolSpec {
  name: string;
  description: string;
  input_schema: { type: 'object'; [k: string]: unknown };
}

export interface ModelRequest {
  system: string;
  messages: MessageParam[];
  tools: ToolSpec[];
  /** default 8192 */
  maxTokens?: number;
}

export interface ModelResponse {
  /** Assistant content blocks as returned by the API (text, tool_use, ...). JSON-serialisable. */
  content: ContentBlock[];
  stopReason: string | null;
  /** Tokens of this call and its cost from the price table. */
  usage: Usage;
  model: string;
  requestId?: string;
}

export interface RetryInfo {
  attempt: number;
  status?: number;
  delayMs: number;
  message: string;
}

export interface ModelCallHooks {
  signal?: AbortSignal;
  /** Called before each retry sleep (429/529/5xx/connection errors). */
  onRetry?(info: RetryInfo): void;
  /** Streaming text deltas, for live progress. */
  onTextDelta?(text: string): void;
}

/**
 * A model client. Implementations stream, retry with backoff honouring `retry-after`, and place prompt-cache
 * breakpoints (tools + system, and a moving one on the conversation tail; at most 4).
 *
 * @example
 * const res = await model.createMessage({ system, messages, tools });
 */
export interface ModelClient {
  readonly provider: 'anthropic' | 'bedrock';
  readonly model: string;
  /**
   * How large MCP tool sets are handled; in `client` mode the agent loop withholds them behind `search_tools`.
   * @default every schema sent (as `off`)
   */
  readonly toolSearch?: ToolSearchPlan;
  createMessage(request: ModelRequest, hooks?: ModelCallHooks): Promise<ModelResponse>;
}
