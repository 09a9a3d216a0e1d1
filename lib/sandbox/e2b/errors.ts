/**
 * E2B's errors turned into project errors with one clear line each, and backoff on E2B's rate limits.
 *
 * E2B errors are recognised by their `name` (set by every class in the SDK), not `instanceof`, so the mapping
 * works across bundles and with the test double.
 */
import { DeepAgentError } from '../../errors/index.js';
import type { Redactor } from '../../secrets/index.js';

/** What was being done when E2B failed; it decides what a "not found" means. */
export interface E2BErrorContext {
  /** e.g. "create", "connect", "read_file" */
  operation: string;
  sandboxId?: string;
  /** the workspace path of a file operation */
  path?: string;
  redactor?: Redactor;
}

const nameOf = (e: unknown): string => (e instanceof Error ? e.name : '');
const statusOf = (e: unknown): number | undefined => {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
};

/** True for errors worth retrying after a pause: E2B rate limits (429) and "service busy" (503). */
export function isRetryableE2BError(e: unknown): boolean {
  const name = nameOf(e);
  return name === 'RateLimitError' || name === 'ServiceBusyError' || statusOf(e) === 429 || statusOf(e) === 503;
}

const FILE_OPERATIONS = new Set(['read_file', 'write_file', 'list_files']);

/**
 * Maps anything the `e2b` SDK throws to a DeepAgentError with a one-line, redacted message.
 *
 * @example
 * try { await sdk.Sandbox.connect(id, { apiKey }); }
 * catch (e) { throw mapE2BError(e, { operation: 'connect', sandboxId: id }); }
 */
export function mapE2BError(e: unknown, ctx: E2BErrorContext): DeepAgentError {
  if (e instanceof DeepAgentError) return e;
  const name = nameOf(e);
  const raw = e instanceof Error ? e.message : String(e);
  const firstLine = (ctx.redactor ? ctx.redactor.redactString(raw) : raw).split('\n')[0]!.slice(0, 300);
  const sandbox = ctx.sandboxId ? `sandbox ${ctx.sandboxId}` : 'the E2B sandbox';
  const data = { provider: 'e2b', operation: ctx.operation, ...(ctx.sandboxId ? { sandboxId: ctx.sandboxId } : {}), e2bError: name || 'Error' };
  const make = (code: string, message: string) => new DeepAgentError(code, message, data, { cause: e });

  if (name === 'AuthenticationError' || statusOf(e) === 401 || statusOf(e) === 403) {
    return make('sandbox_unavailable', `E2B rejected the API key during ${ctx.operation}: check E2B_API_KEY (${firstLine}).`);
  }
  if (isRetryableE2BError(e)) {
    return make('rate_limited', `E2B is rate limiting or busy during ${ctx.operation}; retried with backoff and gave up (${firstLine}).`);
  }
  if (name === 'FileNotFoundError' || (name === 'NotFoundError' && FILE_OPERATIONS.has(ctx.operation))) {
    return make('not_found', `${ctx.path ?? 'the path'} does not exist in the workspace.`);
  }
  if (name === 'SandboxNotFoundError' || name === 'NotFoundError' || statusOf(e) === 404) {
    return make('sandbox_error', `${sandbox} no longer exists (expired?); it cannot be used for ${ctx.operation}.`);
  }
  // E2B reports calls into a sandbox that has ended (HTTP 502 / "unavailable") as a TimeoutError too.
  if (name === 'TimeoutError' && /sandbox timeout|end of life|sandbox was not found|not found/i.test(raw)) {
    return make('sandbox_error', `${sandbox} no longer exists (expired?); it cannot be used for ${ctx.operation}.`);
  }
  if (name === 'TimeoutError') {
    return make('command_timeout', `${ctx.operation} in ${sandbox} timed out: ${firstLine}`);
  }
  if (name === 'InvalidArgumentError') return make('invalid_input', `E2B refused ${ctx.operation}: ${firstLine}`);
  if (name === 'NotEnoughSpaceError') return make('sandbox_error', `${sandbox} ran out of disk space during ${ctx.operation}.`);
  if (name === 'TemplateError') return make('sandbox_unavailable', `the E2B template is not usable: ${firstLine}`);
  if (name.endsWith('Error') && name !== 'Error' && name !== 'TypeError') {
    return make('sandbox_error', `E2B ${ctx.operation} failed: ${firstLine}`);
  }
  // Anything else (fetch failures, DNS) means E2B could not be reached at all.
  return make('sandbox_unavailable', `cannot reach E2B for ${ctx.operation}: ${firstLine}`);
}

export interface BackoffOptions {
  /** attempts in all, including the first (default 5) */
  attempts?: number;
  /** first delay before jitter (default 500 ms) */
  baseDelayMs?: number;
  /** upper bound of one delay (default 10 s) */
  maxDelayMs?: number;
  /** injectable for tests */
  sleep?(ms: number): Promise<void>;
  /** injectable for tests; returns [0, 1) */
  random?(): number;
  signal?: AbortSignal;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `fn`, retrying on E2B rate limits and "busy" answers with exponential backoff and full jitter.
 * Other errors, and the last retryable one, are rethrown unchanged.
 *
 * @example
 * const sandbox = await withE2BBackoff(() => sdk.Sandbox.create(opts), { attempts: 5 });
 */
export async function withE2BBackoff<T>(fn: () => Promise<T>, options: BackoffOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 5);
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 10_000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isRetryableE2BError(e) || options.signal?.aborted) throw e;
      await sleep(Math.round(random() * Math.min(cap, base * 2 ** (attempt - 1))));
    }
  }
}
