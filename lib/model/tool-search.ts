/**
 * Tool search for large tool sets: once the MCP tools' schemas pass a token threshold, they are sent with
 * `defer_loading: true` beside the API's BM25 tool search tool, so the model sees only the tools it searched for
 * instead of every schema on every request. Deferred tools are not part of the prompt, so the cached prefix
 * (tools, system, conversation) stays the same turn after turn. Built-in tools are never deferred.
 */
import type { ToolSpec } from './types.js';

/** The API's server-side search over deferred tools (natural-language queries). */
export const TOOL_SEARCH_TOOL = { type: 'tool_search_tool_bm25_20251119', name: 'tool_search_tool_bm25' } as const;

/** Schema tokens of MCP tools past which they are deferred (GitHub's MCP server alone is about 26k). */
export const DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS = 10_000;

/** MCP tools are named `mcp__<server>__<tool>` (DESIGN, "Tools the model sees"). */
const isMcpTool = (t: ToolSpec) => t.name.startsWith('mcp__');
const tokensOf = (t: ToolSpec) => Math.ceil(JSON.stringify(t).length / 4);

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
  const mcp = tools.filter(isMcpTool);
  if (mcp.length === 0 || !supportsToolSearch(model)) return tools;
  if (mcp.reduce((sum, t) => sum + tokensOf(t), 0) <= thresholdTokens) return tools;
  return [...tools.filter((t) => !isMcpTool(t)), TOOL_SEARCH_TOOL, ...mcp.map((t) => ({ ...t, defer_loading: true as const }))];
}
