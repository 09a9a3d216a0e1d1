/**
 * Tool search for large tool sets: once the MCP tools' schemas pass a token threshold, they are sent with
 * `defer_loading: true` beside the API's BM25 tool search tool, so the model sees only the tools it searched for
 * instead of every schema on every request. Deferred tools are not part of the prompt, so the cached prefix
 * (tools, system, conversation) stays the same turn after turn. Built-in tools are never deferred. Where the API
 * has no tool search, the agent loop withholds the MCP tools itself (`client` mode, lib/agent/tool-search.ts).
 */
import type { ToolSpec } from './types.js';

/** The API's server-side search over deferred tools (natural-language queries). */
export const TOOL_SEARCH_TOOL = { type: 'tool_search_tool_bm25_20251119', name: 'tool_search_tool_bm25' } as const;

/** Schema tokens of MCP tools past which they are deferred (GitHub's MCP server alone is about 26k). */
export const DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS = 10_000;

/** MCP tools are named `mcp__<server>__<tool>` (DESIGN, "Tools the model sees"). */
export const isMcpToolName = (name: string): boolean => name.startsWith('mcp__');
const isMcpTool = (t: ToolSpec) => isMcpToolName(t.name);
const tokensOf = (t: ToolSpec) => Math.ceil(JSON.stringify(t).length / 4);

/**
 * Estimated schema tokens of the MCP tools among `tools` (4 characters a token): what the threshold compares.
 *
 * @example
 * if (mcpSchemaTokens(specs) > DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS) defer();
 */
export const mcpSchemaTokens = (tools: readonly ToolSpec[]): number => tools.filter(isMcpTool).reduce((sum, t) => sum + tokensOf(t), 0);

/** `DEEP_AGENT_TOOL_SEARCH`: `auto` picks `api` where the API has tool search for the model, else `client`. */
export type ToolSearchSetting = 'auto' | 'api' | 'client' | 'off';

/**
 * How a model client handles a large MCP tool set: `api` defers it behind the API's tool search (the client does
 * it), `client` asks the agent loop to withhold it behind its own `search_tools` tool, `off` sends every schema.
 */
export interface ToolSearchPlan {
  mode: 'api' | 'client' | 'off';
  /** MCP schema tokens past which MCP tools are deferred. */
  thresholdTokens: number;
}

/**
 * Resolves `auto`: the API's tool search on the Anthropic API with a model that has it; the client-side search
 * elsewhere (Bedrock, whose request shape for it is not verified here, and older models).
 *
 * @example
 * resolveToolSearch('auto', 'bedrock', 'claude-sonnet-4-5'); // 'client'
 */
export function resolveToolSearch(setting: ToolSearchSetting, provider: 'anthropic' | 'bedrock', model: string): ToolSearchPlan['mode'] {
  if (setting !== 'auto') return setting;
  return provider === 'anthropic' && supportsToolSearch(model) ? 'api' : 'client';
}

/**
 * True for models the API documents tool search for: Claude Opus and Sonnet 4.5 and newer, on the Anthropic
 * API and on Bedrock (ids with or without a region prefix and date suffix).
 *
 * @example
 * supportsToolSearch('claude-sonnet-4-5-20250929'); // true
 * supportsToolSearch('claude-3-5-haiku-latest');   // false
 */
export function supportsToolSearch(model: string): boolean {
  const m = /claude-(?:opus|sonnet)-(\d+)(?:-(\d+))?(?:-|$|@|:)/.exec(model);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = m[2] && m[2].length <= 2 ? Number(m[2]) : 0; // a long second number is a date, not a minor version
  return major > 4 || (major === 4 && minor >= 5);
}

export type RequestTool = ToolSpec | (ToolSpec & { defer_loading: true }) | typeof TOOL_SEARCH_TOOL;

/**
 * The tools to send: unchanged below the threshold or on a model without tool search; else the built-in tools,
 * the search tool, then every MCP tool deferred (in their original order, so the request stays deterministic).
 *
 * @example
 * const tools = withToolSearch(request.tools, 'claude-sonnet-4-5', DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS);
 */
export function withToolSearch(tools: ToolSpec[], model: string, thresholdTokens: number): RequestTool[] {
  return supportsToolSearch(model) ? deferBehindApiSearch(tools, thresholdTokens) : tools;
}

/** `withToolSearch` without the model check: `DEEP_AGENT_TOOL_SEARCH=api` says the model has it. */
export function deferBehindApiSearch(tools: ToolSpec[], thresholdTokens: number): RequestTool[] {
  const mcp = tools.filter(isMcpTool);
  if (mcp.length === 0 || mcp.reduce((sum, t) => sum + tokensOf(t), 0) <= thresholdTokens) return tools;
  return [...tools.filter((t) => !isMcpTool(t)), TOOL_SEARCH_TOOL, ...mcp.map((t) => ({ ...t, defer_loading: true as const }))];
}
