export * from './types.js';
export * from './prices.js';
export { createModelClient, MessagesModelClient, withCacheBreakpoints, type ModelClientConfig, type ModelClientOptions } from './anthropic.js';
export {
  withToolSearch,
  deferBehindApiSearch,
  supportsToolSearch,
  resolveToolSearch,
  isMcpToolName,
  mcpSchemaTokens,
  TOOL_SEARCH_TOOL,
  DEFAULT_TOOL_SEARCH_THRESHOLD_TOKENS,
  type RequestTool,
  type ToolSearchPlan,
  type ToolSearchSetting,
} from './tool-search.js';
