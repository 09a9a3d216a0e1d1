/** Sandboxes: where the agent's commands and file edits happen. Pick one with `createSandboxProvider`. */
import type { Config } from '../config/index.js';
import { DeepAgentError } from '../errors/index.js';
import type { SandboxProvider } from './types.js';
import { BubblewrapSandboxProvider, UnsafeLocalSandboxProvider, type BubblewrapSandboxProviderOptions } from './local/index.js';

export type * from './types.js';
export * from './local/index.js';

/** Settings for the local providers beyond the configuration (`home` defaults to `config.home`). */
export type SandboxProviderOverrides = Partial<BubblewrapSandboxProviderOptions>;

/**
 * The sandbox provider chosen by `config.sandbox` (`DEEP_AGENT_SANDBOX`): `local` (bubblewrap),
 * `unsafe-local`, or `e2b`. Bubblewrap's availability is checked on the first `create()`.
 *
 * @example
 * const provider = await createSandboxProvider(loadConfig(process.env));
 * await using sandbox = await provider.create({ taskId });
 */
export async function createSandboxProvider(config: Config, overrides: SandboxProviderOverrides = {}): Promise<SandboxProvider> {
  const options = { ...overrides, home: overrides.home ?? config.home };
  switch (config.sandbox) {
    case 'local':
      return new BubblewrapSandboxProvider(options);
    case 'unsafe-local':
      return new UnsafeLocalSandboxProvider(options);
    case 'e2b':
      return loadE2BProvider(config);
    default:
      throw new DeepAgentError('invalid_input', `unknown sandbox provider "${String(config.sandbox)}"`);
  }
}

/** Loaded on demand so that local runs never load the E2B SDK. */
async function loadE2BProvider(config: Config): Promise<SandboxProvider> {
  // A variable specifier keeps this module compiling while the E2B module is absent.
  const specifier = './e2b/index.js';
  let module: { createE2BSandboxProvider?: (config: Config) => SandboxProvider };
  try {
    module = (await import(specifier)) as typeof module;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((e as Error).message).includes('sandbox/e2b/index')) throw e;
    module = {};
  }
  if (typeof module.createE2BSandboxProvider !== 'function') {
    throw new DeepAgentError('sandbox_unavailable', 'the E2B sandbox provider is not available in this build; set DEEP_AGENT_SANDBOX=local to use bubblewrap.');
  }
  return module.createE2BSandboxProvider(config);
}
