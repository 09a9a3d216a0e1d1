export * from './types.js';
export * from './prices.js';
export { createModelClient, MessagesModelClient, withCacheBreakpoints, type ModelClientOptions } from './anthropic.js';
