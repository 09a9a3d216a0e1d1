/** The CDK side of the AWS runtime: the stack, its constructs and its settings. */
export * from './config.js';
export * from './stack.js';
export {
  AgentNodeFunction,
  METRICS_NAMESPACE,
  NODE_RUNTIME,
  REPO_ROOT,
  RUNTIME_PROVIDED_MODULES,
  esbuildOptions,
  lambdaBundling,
  type AgentNodeFunctionProps,
  type AwsSdkSource,
} from './node-function.js';
export * from './task-queue.js';
export * from './task-bucket.js';
export * from './agent-secrets.js';
export * from './task-api.js';
export * from './task-schedules.js';
export * from './alarms.js';
export { suppressStackFindings } from './nag.js';
