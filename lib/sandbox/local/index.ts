/** Sandboxes on this machine: bubblewrap (isolated) and unsafe-local (not isolated). */
export { BubblewrapSandboxProvider, BWRAP_MISSING_MESSAGE, type BubblewrapSandboxProviderOptions, type ReadOnlyMount } from './bubblewrap.js';
export { UnsafeLocalSandboxProvider, type UnsafeLocalSandboxProviderOptions } from './unsafe-local.js';
export { LocalSandbox, DEFAULT_SANDBOX_PATH, type LocalSandboxProviderOptions } from './sandbox.js';
export { WorkspaceFiles, type WorkspaceFilesOptions } from './workspace.js';
