/**
 * The limits every sandbox provider applies, and their defaults: command timeout, output cap, list size
 * (how much of a command's work comes back), and the resource limits of one task's sandbox (memory,
 * processes, workspace disk).
 */
import { DeepAgentError } from '../../errors/index.js';

/** Per-command and per-call limits, the same for every provider. */
export interface CommandLimits {
  /** @default 120000 */
  defaultTimeoutMs: number;
  /** Per stream. @default 262144 (256 KiB) */
  maxOutputBytes: number;
  /** @default 5000 */
  maxListEntries: number;
}

export const DEFAULT_COMMAND_LIMITS: Readonly<CommandLimits> = Object.freeze({
  defaultTimeoutMs: 120_000,
  maxOutputBytes: 256 * 1024,
  maxListEntries: 5000,
});

/** Resolves partial command limits (provider options) against the defaults. */
export function commandLimits(partial: Partial<CommandLimits> = {}): CommandLimits {
  return {
    defaultTimeoutMs: partial.defaultTimeoutMs ?? DEFAULT_COMMAND_LIMITS.defaultTimeoutMs,
    maxOutputBytes: partial.maxOutputBytes ?? DEFAULT_COMMAND_LIMITS.maxOutputBytes,
    maxListEntries: partial.maxListEntries ?? DEFAULT_COMMAND_LIMITS.maxListEntries,
  };
}

/** Where background commands write their output, relative to the workspace: `<dir>/<backgroundId>.log`. */
export const BACKGROUND_LOG_DIR = '.deep-agent/background';

/** The resources one task's sandbox may use (DEEP_AGENT_SANDBOX_MEMORY_MB, _PIDS, _DISK_MB). */
export interface ResourceLimits {
  /** Memory of all the sandbox's processes together, in MiB. @default 2048 */
  memoryMb: number;
  /** Processes and threads alive at once. @default 512 */
  pids: number;
  /** The workspace's quota, in MiB. @default 4096 */
  diskMb: number;
}

export const DEFAULT_RESOURCE_LIMITS: Readonly<ResourceLimits> = Object.freeze({ memoryMb: 2048, pids: 512, diskMb: 4096 });

export type ResourceName = keyof ResourceLimits;

/** How one resource limit is held on this host; `none` when it cannot be. */
export interface LimitEnforcement {
  value: number;
  /** e.g. `cgroup v1`, `rlimit`, `workspace check`, `template size`, or `none` */
  by: string;
}

/** What a provider enforces, for `sandbox_info`, `task.started` and `doctor`. */
export type EnforcedLimits = Record<ResourceName, LimitEnforcement>;

/** The limits whose enforcement is `none` (what `task.started` warns about). */
export function unenforcedLimits(limits: EnforcedLimits): ResourceName[] {
  return (Object.keys(limits) as ResourceName[]).filter((k) => limits[k].by === 'none');
}

/**
 * Resolves partial resource limits against the defaults, refusing values that are not positive integers.
 *
 * @example
 * resourceLimits({ memoryMb: 64 }); // { memoryMb: 64, pids: 512, diskMb: 4096 }
 */
export function resourceLimits(partial: Partial<ResourceLimits> = {}): ResourceLimits {
  const out = { ...DEFAULT_RESOURCE_LIMITS, ...partial };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isInteger(value) || value <= 0) throw new DeepAgentError('invalid_input', `sandbox limit ${name} must be a positive integer, not ${String(value)}`);
  }
  return out;
}

const LIMIT_TEXT: Record<ResourceName, (l: ResourceLimits) => string> = {
  memoryMb: (l) => `the sandbox memory limit (${l.memoryMb} MB, DEEP_AGENT_SANDBOX_MEMORY_MB)`,
  pids: (l) => `the sandbox process limit (${l.pids} processes, DEEP_AGENT_SANDBOX_PIDS)`,
  diskMb: (l) => `the workspace disk quota (${l.diskMb} MB, DEEP_AGENT_SANDBOX_DISK_MB)`,
};

/**
 * The error a command gets when it hit a resource limit: code `sandbox_limit`, the limit named in the message
 * and in `data.limit`, and what the command printed before it was stopped.
 *
 * @example
 * throw limitExceeded('memoryMb', limits, result);
 */
export function limitExceeded(limit: ResourceName, limits: ResourceLimits, output?: { stdout: string; stderr: string }): DeepAgentError {
  const tail = (s: string | undefined) => (s ? s.slice(-2000) : '');
  const printed = [tail(output?.stdout) && `stdout (end):\n${tail(output?.stdout)}`, tail(output?.stderr) && `stderr (end):\n${tail(output?.stderr)}`]
    .filter(Boolean)
    .join('\n');
  return new DeepAgentError(
    'sandbox_limit',
    `the command was stopped: it hit ${LIMIT_TEXT[limit](limits)}. The sandbox still works; use less, or split the work.${printed ? `\n${printed}` : ''}`,
    { limit, value: limits[limit] },
  );
}

/** Signs in a command's result that a write hit RLIMIT_FSIZE (the quota left) rather than failing otherwise. */
export function hitFileSizeLimit(result: { exitCode: number | null; stderr: string }): boolean {
  return result.exitCode === 128 + 25 || /File size limit exceeded|File too large/i.test(result.stderr);
}

/** Signs that an allocation failed under RLIMIT_DATA (where no cgroup holds memory and says so). */
export function hitDataLimit(result: { exitCode: number | null; stderr: string }): boolean {
  return result.exitCode !== 0 && /MemoryError|Cannot allocate memory|out of memory|bad_alloc|allocation failed/i.test(result.stderr);
}

/** Signs that forks failed under RLIMIT_NPROC (where no cgroup holds processes and says so). */
export function hitProcessLimit(result: { exitCode: number | null; stderr: string }): boolean {
  return /fork: (retry: )?Resource temporarily unavailable|Cannot fork|can't fork/i.test(result.stderr);
}

/**
 * The limits the configuration sets (`DEEP_AGENT_SANDBOX_MEMORY_MB`, `_PIDS`, `_DISK_MB`); unset ones are left
 * out, so the sandbox's defaults apply.
 *
 * @example
 * resourceLimits(sandboxLimitsOf(config)); // { memoryMb: 2048, pids: 512, diskMb: 4096 } on an empty environment
 */
export function sandboxLimitsOf(config: { sandbox: Partial<ResourceLimits> }): Partial<ResourceLimits> {
  const { memoryMb, pids, diskMb } = config.sandbox;
  return { ...(memoryMb ? { memoryMb } : {}), ...(pids ? { pids } : {}), ...(diskMb ? { diskMb } : {}) };
}
