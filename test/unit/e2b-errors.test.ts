/** E2B errors mapped to project errors, and backoff with jitter (pure: the real `e2b` error classes, no sandbox). */
import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CommandExitError,
  FileNotFoundError,
  InvalidArgumentError,
  NotEnoughSpaceError,
  RateLimitError,
  SandboxNotFoundError,
  ServiceBusyError,
  TimeoutError,
} from 'e2b';
import { DeepAgentError } from '../../lib/errors/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { mapE2BError, withE2BBackoff } from '../../lib/sandbox/e2b/index.js';

describe('mapE2BError', () => {
  it.each([
    [new AuthenticationError('401: invalid key'), 'create', 'sandbox_unavailable', /check E2B_API_KEY/],
    [new RateLimitError('429: slow down'), 'create', 'rate_limited', /rate limiting/],
    [new ServiceBusyError('503: no capacity'), 'create', 'rate_limited', /busy/],
    [new SandboxNotFoundError('not found'), 'connect', 'sandbox_error', /^sandbox sbx-1 no longer exists \(expired\?\)/],
    [new TimeoutError('502: This error is likely due to sandbox timeout.'), 'run_command', 'sandbox_error', /no longer exists \(expired\?\)/],
    [new TimeoutError('[deadline_exceeded] the request took too long'), 'run_command', 'command_timeout', /timed out/],
    [new FileNotFoundError('no such file'), 'read_file', 'not_found', /^a\.txt does not exist/],
    [new InvalidArgumentError('bad path'), 'write_file', 'invalid_input', /E2B refused write_file/],
    [new NotEnoughSpaceError('disk full'), 'write_file', 'sandbox_error', /out of disk space/],
    [new CommandExitError({ exitCode: 1, stdout: '', stderr: '', error: 'exit status 1' }), 'run_command', 'sandbox_error', /E2B run_command failed/],
    [new TypeError('fetch failed'), 'create', 'sandbox_unavailable', /cannot reach E2B/],
  ])('maps %s during %s to %s', (error, operation, code, message) => {
    const mapped = mapE2BError(error, { operation, sandboxId: 'sbx-1', path: 'a.txt' });
    expect(mapped).toBeInstanceOf(DeepAgentError);
    expect(mapped.code).toBe(code);
    expect(mapped.message).toMatch(message);
    expect(mapped.message).not.toContain('\n');
    expect(mapped.toObject().data).toMatchObject({ provider: 'e2b', operation });
  });

  it('keeps secrets out of the message', () => {
    const key = 'e2b_secretsecret0123456789abcdef';
    const mapped = mapE2BError(new Error(`request with key ${key} failed`), { operation: 'create', redactor: new Redactor([key]) });
    expect(mapped.message).not.toContain(key);
    expect(mapped.message).toContain('[REDACTED]');
  });

  it('passes project errors through unchanged', () => {
    const original = new DeepAgentError('path_outside_workspace', 'no');
    expect(mapE2BError(original, { operation: 'read_file' })).toBe(original);
  });
});

describe('withE2BBackoff', () => {
  it('retries rate limits with exponential, jittered, capped delays', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const result = await withE2BBackoff(
      async () => {
        if (++calls < 5) throw new RateLimitError('429');
        return 'ok';
      },
      { attempts: 5, baseDelayMs: 100, maxDelayMs: 300, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 },
    );
    expect(result).toBe('ok');
    expect(sleeps).toEqual([50, 100, 150, 150]);
  });

  it('does not retry other errors', async () => {
    let calls = 0;
    await expect(
      withE2BBackoff(async () => {
        calls++;
        throw new AuthenticationError('401');
      }, { sleep: async () => {} }),
    ).rejects.toBeInstanceOf(AuthenticationError);
    expect(calls).toBe(1);
  });

  it('rethrows the last rate limit once the attempts are used up', async () => {
    let calls = 0;
    await expect(
      withE2BBackoff(async () => {
        calls++;
        throw new RateLimitError(`429 #${calls}`);
      }, { attempts: 3, sleep: async () => {} }),
    ).rejects.toThrow('429 #3');
    expect(calls).toBe(3);
  });
});
