/**
 * What every sandbox provider shares (bubblewrap, unsafe-local, E2B): limits and their defaults, the output
 * cap, how paths name the workspace, and the checks on a caller's environment.
 */
export * from './limits.js';
export { CappedOutput } from './capped-output.js';
export { checkedEnv } from './environment.js';
export { WORKSPACE_ALIAS, outsideWorkspace, workspaceParts, lexicalWorkspacePath } from './workspace-paths.js';
export {
  allowsHost,
  checkMaskedCredential,
  egressFor,
  headerRulesFor,
  hostOfPattern,
  hostPatterns,
  maskedCredentialsFrom,
  maskedSentinel,
  parseAllowList,
  type Egress,
  type HeaderRules,
  type MaskedCredentialSpec,
  type NetworkRequest,
  type TaskNetwork,
} from './egress.js';
