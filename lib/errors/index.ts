/**
 * One error shape for the whole project.
 *
 * Errors cross process and checkpoint boundaries (SQLite journal, durable steps, HTTP), so each carries a
 * stable string `code` and serialises to a plain object. Recognise errors by `code`, not `instanceof`.
 */

/** Codes a caller can act on. 4xx-like codes are the caller's mistakes; the rest are ours or upstream. */
export type ErrorCode =
  | 'invalid_input'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'missing_config'
  | 'sandbox_unavailable'
  | 'sandbox_error'
  | 'path_outside_workspace'
  | 'network_disabled'
  | 'command_timeout'
  | 'tool_error'
  | 'model_error'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'cancelled'
  | 'mcp_error'
  | 'internal';

export interface SerializedError {
  errorType: string;
  code: ErrorCode | string;
  message: string;
  data?: Record<string, unknown>;
  /** False when trying again cannot help (see `DeepAgentError.retryable`). */
  retryable?: boolean;
}

/**
 * Codes that mean trying again cannot help: the caller's own mistakes and decisions already taken (a budget, a
 * cancel). An error with one of these codes is non-retryable unless its thrower says otherwise.
 */
const NON_RETRYABLE_BY_DEFAULT: ReadonlySet<string> = new Set(['budget_exceeded', 'cancelled', 'invalid_input', 'missing_config']);

export interface DeepAgentErrorOptions {
  cause?: unknown;
  /**
   * Whether running the same work again may succeed (a queue retries the task, the loop rethrows it to its
   * runtime). Like Temporal's `ApplicationFailure.nonRetryable`, it is a property of the error, not a list kept
   * by whoever catches it. @default false for budget_exceeded, cancelled, invalid_input, missing_config; true otherwise
   */
  retryable?: boolean;
}

/**
 * Base error of the project.
 *
 * @example
 * throw new DeepAgentError('not_found', `task ${id} does not exist`);
 */
export class DeepAgentError extends Error {
  readonly errorType: string = 'DeepAgentError';
  /** Whether the same work may succeed when run again; survives `toObject` / `fromObject`. */
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly data?: Record<string, unknown>,
    options: DeepAgentErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeepAgentError';
    this.retryable = options.retryable ?? !NON_RETRYABLE_BY_DEFAULT.has(code);
  }

  toObject(): SerializedError {
    return { errorType: this.errorType, code: this.code, message: this.message, ...(this.data ? { data: this.data } : {}), retryable: this.retryable };
  }

  static fromObject(o: SerializedError): DeepAgentError {
    return new DeepAgentError(o.code, o.message, o.data, o.retryable === undefined ? {} : { retryable: o.retryable });
  }

  /**
   * An error that no retry can fix, whatever its code.
   *
   * @example
   * throw DeepAgentError.nonRetryable('tool_error', 'the repository was deleted');
   */
  static nonRetryable(code: ErrorCode | string, message: string, data?: Record<string, unknown>): DeepAgentError {
    return new DeepAgentError(code, message, data, { retryable: false });
  }
}

/**
 * True when running the same work again may succeed. Reads the error's own `retryable` (a `DeepAgentError`, or
 * its serialised object); an error without one is judged by its code, and anything else (a plain `Error`, a
 * network failure) counts as transient.
 *
 * @example
 * if (isRetryable(e)) queue.retry(message); else recordFailure(e);
 */
export function isRetryable(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return true;
  const { retryable, code } = e as { retryable?: unknown; code?: unknown };
  if (typeof retryable === 'boolean') return retryable;
  return !(typeof code === 'string' && NON_RETRYABLE_BY_DEFAULT.has(code));
}

/**
 * A required setting is absent. The message names the variable and what it unlocks, in one line.
 *
 * @example
 * throw new MissingConfigError('ANTHROPIC_API_KEY', 'calls to Claude');
 */
export class MissingConfigError extends DeepAgentError {
  override readonly errorType = 'MissingConfigError';
  constructor(readonly variable: string, unlocks: string) {
    super('missing_config', `${variable} is not set: it is needed for ${unlocks}.`, { variable });
  }
}

/** True when `e` carries the given project error code (works across serialisation). */
export function hasCode(e: unknown, code: ErrorCode | string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/** Normalises anything thrown into a `{ code, message }` pair for records, events and HTTP bodies. */
export function toErrorInfo(e: unknown): { code: string; message: string } {
  if (e instanceof DeepAgentError) return { code: e.code, message: e.message };
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === 'string' && /^[a-z_]+$/.test(code) ? code : 'internal', message: e.message };
  }
  return { code: 'internal', message: String(e) };
}
