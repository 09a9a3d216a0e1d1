export * from './types.js';
export * from './journal.js';
export { runTask, DEFAULT_LIMITS } from './loop.js';
export { createAgent, type Agent, type AgentOptions, type InvokeOptions } from './create-agent.js';
