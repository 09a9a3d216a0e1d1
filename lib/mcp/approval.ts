/** Approval for destructive MCP tools, from their annotations: the policy lives with the agent's approvals. */
export { destructiveApprovalPolicy, isDestructive, type DestructiveApprovalOptions } from '../agent/index.js';
