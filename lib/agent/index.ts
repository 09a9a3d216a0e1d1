export * from './types.js';
export * from './journal.js';
export { runTask, DEFAULT_LIMITS } from './loop.js';
export { maxStepsWithin, OPERATIONS, FIXED_OPERATIONS, OPERATIONS_PER_STEP } from './budgets.js';
export { destructiveApprovalPolicy, isDestructive, approvalPolicyFor, type DestructiveApprovalOptions } from './approval-policy.js';
