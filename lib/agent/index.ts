export * from './types.js';
export * from './journal.js';
export { runTask, DEFAULT_LIMITS } from './loop.js';
