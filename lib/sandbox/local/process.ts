/**
 * Runs one host process to completion with the sandbox's promises: output caps, a timeout and an abort
 * signal that kill the whole process group, and nothing left behind when it returns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { DeepAgentError } from '../../errors/index.js';
import type { CommandResult } from '../types.js';
import { CappedOutput, type ResourceName } from '../shared/index.js';

/** A host command line. */
export interface ProcessSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface RunProcessOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
  /** Every started child is added here and removed when it has exited, so `close()` can kill it. */
  live: Set<ChildProcess>;
  /**
   * Polled while the process runs; when it names a limit, the process group is killed and the result says
   * `stoppedBy` that limit.
   */
  watch?: { intervalMs: number; check(): Promise<ResourceName | undefined> };
}

/** A command's result, plus the limit that stopped it, if one did. */
export interface ProcessResult extends CommandResult {
  stoppedBy?: ResourceName;
}

/** How long to wait for output pipes to drain after the process has exited and its group was killed. */
const DRAIN_MS = 1000;

/**
 * Spawns `spec` in its own process group and waits for it. On timeout or abort, the group is killed with
 * SIGKILL; when the main process exits, whatever it left running in its group is killed too.
 *
 * @example
 * const r = await runProcess({ command: 'sh', args: ['-c', 'echo hi'], env: {} },
 *   { timeoutMs: 5000, maxOutputBytes: 1024, live: new Set() });
 */
export function runProcess(spec: ProcessSpec, options: RunProcessOptions): Promise<ProcessResult> {
  if (options.signal?.aborted) return Promise.reject(cancelled());
  const started = performance.now();
  return new Promise<ProcessResult>((resolvePromise, rejectPromise) => {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    options.live.add(child);
    const stdout = new CappedOutput(options.maxOutputBytes, options.onStdout);
    const stderr = new CappedOutput(options.maxOutputBytes, options.onStderr);
    child.stdout!.on('data', (b: Buffer) => stdout.push(b));
    child.stderr!.on('data', (b: Buffer) => stderr.push(b));

    let timedOut = false;
    let aborted = false;
    let exitCode: number | null = null;
    let settled = false;
    let drainTimer: NodeJS.Timeout | undefined;
    let swept: Promise<void> = Promise.resolve();
    const timer = setTimeout(() => {
      timedOut = true;
      killProcessGroup(child);
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killProcessGroup(child);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let stoppedBy: ResourceName | undefined;
    let checking = false;
    const watcher = options.watch
      ? setInterval(() => {
          if (checking || stoppedBy) return;
          checking = true;
          void options.watch!.check().then(
            (limit) => {
              checking = false;
              if (!limit || settled) return;
              stoppedBy = limit;
              killProcessGroup(child);
            },
            () => (checking = false),
          );
        }, options.watch.intervalMs)
      : undefined;

    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      clearInterval(watcher);
      options.signal?.removeEventListener('abort', onAbort);
      options.live.delete(child);
      if (error) return rejectPromise(error);
      if (aborted) return void swept.then(() => rejectPromise(cancelled()));
      resolvePromise(swept.then(() => ({
        stdout: stdout.text(),
        stderr: stderr.text(),
        exitCode: timedOut ? null : exitCode,
        timedOut,
        truncated: stdout.truncated || stderr.truncated,
        durationMs: Math.round(performance.now() - started),
        ...(stoppedBy ? { stoppedBy } : {}),
      })));
    };

    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(new DeepAgentError('sandbox_error', `cannot start ${spec.command}: ${e.code ?? e.message}`, { errno: e.code }, { cause: e }));
    });
    child.on('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      // Children left in the group would hold the pipes open (and outlive the command): end them, also the
      // ones a fork bomb was still forking while the first kill went out.
      killProcessGroup(child);
      if (child.pid !== undefined) swept = sweepProcessGroup(child.pid);
      drainTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, DRAIN_MS);
    });
    child.on('close', () => finish());
  });
}

/**
 * Spawns `spec` detached with stdout and stderr going to `logFd`, and returns at once.
 *
 * @example
 * const child = startBackgroundProcess(spec, fd, live);
 */
export function startBackgroundProcess(spec: ProcessSpec, logFd: number, live: Set<ChildProcess>): ChildProcess {
  const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', logFd, logFd], detached: true });
  live.add(child);
  child.on('error', () => live.delete(child));
  child.on('exit', () => {
    killProcessGroup(child);
    live.delete(child);
  });
  return child;
}

/** SIGKILLs the process group led by `child` (falling back to the child alone). */
export function killProcessGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** SIGKILLs process group `pgid` until it is empty (at most about 2 s): no process left can fork again. */
async function sweepProcessGroup(pgid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `child` has exited, at most `ms`. */
export function waitForExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function cancelled(): DeepAgentError {
  return new DeepAgentError('cancelled', 'the command was cancelled');
}
