/** Checks on the environment a caller passes into a sandbox, the same for every provider. */
import { DeepAgentError } from '../../errors/index.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Refuses environment entries that cannot be passed to a process (bad names, NUL bytes, non-strings) with
 * `invalid_input`; returns the environment (or `{}`).
 *
 * @example
 * const env = { ...baseEnv, ...checkedEnv(options.env) };
 */
export function checkedEnv(env: Record<string, string> | undefined): Record<string, string> {
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(name)) throw new DeepAgentError('invalid_input', `${JSON.stringify(name)} is not a valid environment variable name`);
    if (typeof value !== 'string' || value.includes('\0')) throw new DeepAgentError('invalid_input', `the value of ${name} must be a string without NUL bytes`);
  }
  return env ?? {};
}
