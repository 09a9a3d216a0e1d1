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
}

/**
 * Base error of the project.
 *
 * @example
 * throw new DeepAgentError('not_found', `task ${id} does not exist`);
 */
export class DeepAgentError extends Error {
  readonly errorType: string = 'DeepAgentError';
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly data?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeepAgentError';
  }

  toObject(): SerializedError {
    return { errorType: this.errorType, code: this.code, message: this.message, ...(this.data ? { data: this.data } : {}) };
  }

  static fromObject(o: SerializedError): DeepAgentError {
    return new DeepAgentError(o.code, o.message, o.data);
  }
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
