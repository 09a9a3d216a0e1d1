export * from './types.js';
export { MemoryTaskStore, observeEvents } from './memory.js';
