/** The composition root (`assembleAgent`): turns a validated config into what a run needs, and the library API on top of it. */
export { assembleAgent, assembleMcp, type AssembledAgent, type AssembledTaskOptions, type AssemblyOverrides } from './assemble.js';
export { createAgent, type Agent, type AgentOptions, type InvokeOptions } from './create-agent.js';
export { approvalPolicyFor } from '../agent/index.js';
