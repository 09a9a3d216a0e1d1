/** The composition root: turns a validated config into what a run needs, and the library API on top of it. */
export { createAgent, type Agent, type AgentOptions, type InvokeOptions } from './create-agent.js';
