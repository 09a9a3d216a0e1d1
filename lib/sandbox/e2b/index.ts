/**
 * E2B cloud sandboxes: the `SandboxProvider` the deployed agent uses, and E2B's MCP gateway.
 *
 * lib/sandbox/index.ts loads this folder on demand (`await import('./e2b/index.js')`), so the local runtime
 * never loads the `e2b` SDK.
 */
export {
  E2BSandboxProvider,
  createE2BSandboxProvider,
  E2B_PLAN_MAX_LIFETIME_SECONDS,
  type E2BProviderOptions,
  type E2BProviderDeps,
} from './provider.js';
export {
  E2BSandbox,
  E2B_WORKDIR,
  DEFAULT_OUTPUT_CAP_BYTES,
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_MAX_LIST_ENTRIES,
  NETWORK_POLICY_TEXT,
  E2B_DENIED_INTERNAL_RANGES,
  type NetworkPolicy,
  type E2BSandboxInfo,
} from './e2b-sandbox.js';
export {
  createE2BMcpGateway,
  connectE2BMcpGateway,
  gatewayServersFromConfig,
  type E2BMcpGateway,
  type E2BMcpGatewayOptions,
} from './mcp-gateway.js';
export { mapE2BError, withE2BBackoff, isRetryableE2BError, type BackoffOptions, type E2BErrorContext } from './errors.js';
export { SandboxKeepAlive, type KeepAliveOptions } from './keep-alive.js';
export type * from './sdk.js';
export { loadE2BSdk } from './sdk.js';
