/** Sandboxes: where the agent's commands and file edits happen. Pick one with `createSandboxProvider`. */
import type { Config } from '../config/index.js';
import { DeepAgentError } from '../errors/index.js';
import type { SandboxProvider } from './types.js';
import { maskedCredentialsFrom, sandboxLimitsOf } from './shared/index.js';
import { BubblewrapSandboxProvider, UnsafeLocalSandboxProvider, type BubblewrapSandboxProviderOptions } from './local/index.js';

export type * from './types.js';
export * from './local/index.js';
export * from './shared/index.js';

/** Settings for the local providers beyond the configuration (`home` defaults to `config.home`). */
export type SandboxProviderOverrides = Partial<BubblewrapSandboxProviderOptions>;

/**
 * The sandbox provider chosen by `config.sandbox.provider` (`DEEP_AGENT_SANDBOX`): `local` (bubblewrap),
 * `unsafe-local`, or `e2b`. Bubblewrap's availability is checked on the first `create()`.
 *
 * @example
 * const provider = await createSandboxProvider(config);
 * await using sandbox = await provider.create({ taskId });
 */
export async function createSandboxProvider(config: Config, overrides: SandboxProviderOverrides = {}): Promise<SandboxProvider> {
  const networkAllow = overrides.networkAllow ?? (config.sandbox.networkAllow?.length ? config.sandbox.networkAllow : undefined);
  const maskedCredentials = overrides.maskedCredentials ?? maskedCredentialsFrom(config);
  const options = {
    ...overrides,
    ...(maskedCredentials.length ? { maskedCredentials } : {}),
    home: overrides.home ?? config.home,
    resourceLimits: { ...sandboxLimitsOf(config), ...overrides.resourceLimits },
    ...(networkAllow ? { networkAllow } : {}),
  };
  switch (config.sandbox.provider) {
    case 'local':
      return new BubblewrapSandboxProvider(options);
    case 'unsafe-local':
      return new UnsafeLocalSandboxProvider(options);
    case 'e2b':
      return loadE2BProvider(config);
    default:
      throw new DeepAgentError('invalid_input', `unknown sandbox provider "${String(config.sandbox.provider)}"`);
  }
}

/**
 * Loaded on demand so that local runs never load the E2B SDK. A literal specifier, so that bundlers (esbuild
 * for the Lambda functions) include the module.
 */
async function loadE2BProvider(config: Config): Promise<SandboxProvider> {
  const { createE2BSandboxProvider } = await import('./e2b/index.js');
  return createE2BSandboxProvider(config);
}
