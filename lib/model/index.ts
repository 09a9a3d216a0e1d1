export * from './types.js';
export * from './prices.js';
export { createModelClient, MessagesModelClient, withCacheBreakpoints, type ModelClientConfig, type ModelClientOptions } from './anthropic.js';
