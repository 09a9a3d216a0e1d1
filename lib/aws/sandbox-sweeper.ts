/**
 * The sandbox sweeper: finds E2B sandboxes by the `taskId` metadata every sandbox of a task carries (the task
 * sandbox and the MCP gateway alike) and kills those whose task is finished or unknown to this deployment.
 * It works from E2B's own list, not from anything the run wrote, so a sandbox whose run died before recording
 * it is still found.
 *
 * Run on a schedule (leaks of any cause) and on demand for one task (a cancel stopped its execution, so no
 * code of that run will close its sandboxes).
 */
import type { TaskRecord } from '../task/index.js';
import { isTerminal } from '../task/index.js';

/** One sandbox as `Sandbox.list` reports it (the fields used here). */
export interface ListedSandbox {
  sandboxId: string;
  metadata: Record<string, string>;
  startedAt: Date;
  state?: string;
}

/** The slice of the `e2b` SDK's `Sandbox` the sweeper uses (e2b 2.x `Sandbox.list` paginator and `kill`). */
export interface SweeperSandboxApi {
  list(opts: { apiKey?: string; query?: { metadata?: Record<string, string> }; limit?: number }): {
    readonly hasNext: boolean;
    nextItems(): Promise<ListedSandbox[]>;
  };
  kill(sandboxId: string, opts: { apiKey?: string }): Promise<boolean>;
}

export interface SandboxSweepDeps {
  sandboxes: SweeperSandboxApi;
  apiKey: string;
  store: { get(id: string): Promise<TaskRecord | undefined> };
  /**
   * A sandbox of an unknown task is spared while younger than this, so a record being written (or read from
   * a lagging replica) never costs a live task its sandbox.
   * @default 600
   */
  unknownGraceSeconds?: number;
  /** @default Date.now */
  now?: () => number;
}

export type SweepReason = 'terminal' | 'unknown';

export interface SweepResult {
  /** Sandboxes carrying a `taskId` that were looked at. */
  examined: number;
  killed: { sandboxId: string; taskId: string; reason: SweepReason }[];
}

async function* listAll(deps: SandboxSweepDeps, metadata?: Record<string, string>): AsyncGenerator<ListedSandbox> {
  const pages = deps.sandboxes.list({ apiKey: deps.apiKey, limit: 100, ...(metadata ? { query: { metadata } } : {}) });
  while (pages.hasNext) for (const s of await pages.nextItems()) yield s;
}

/**
 * Kills every sandbox whose task is terminal, or unknown and older than the grace period. Sandboxes without
 * a `taskId` are not this product's and are left alone.
 *
 * @example
 * const { killed } = await sweepSandboxes({ sandboxes: (await import('e2b')).Sandbox, apiKey, store });
 */
export async function sweepSandboxes(deps: SandboxSweepDeps, only?: { taskId: string }): Promise<SweepResult> {
  const now = deps.now?.() ?? Date.now();
  const graceMs = (deps.unknownGraceSeconds ?? 600) * 1000;
  const result: SweepResult = { examined: 0, killed: [] };
  const records = new Map<string, Promise<TaskRecord | undefined>>();
  for await (const sandbox of listAll(deps, only ? { taskId: only.taskId } : undefined)) {
    const taskId = sandbox.metadata?.taskId;
    // A connection's sandbox outlives any task: the connection keeper owns it.
    if (!taskId || sandbox.metadata.purpose === 'mcp-connection' || (only && taskId !== only.taskId)) continue;
    result.examined++;
    if (!records.has(taskId)) records.set(taskId, deps.store.get(taskId));
    const record = await records.get(taskId)!;
    const reason: SweepReason | undefined = !record
      ? now - sandbox.startedAt.getTime() >= graceMs
        ? 'unknown'
        : undefined
      : isTerminal(record.status)
        ? 'terminal'
        : undefined;
    if (!reason) continue;
    // false: E2B had already ended it; nothing was killed by us.
    if (await deps.sandboxes.kill(sandbox.sandboxId, { apiKey: deps.apiKey })) result.killed.push({ sandboxId: sandbox.sandboxId, taskId, reason });
  }
  return result;
}

/** The sweeper function's input: nothing (the schedule) or one task to clean up at once (after a cancel). */
export interface SweepEvent {
  taskId?: string;
}

/**
 * Reads a sweeper event: `{ taskId }` sweeps that task only; anything else (the EventBridge schedule's
 * event) sweeps everything.
 *
 * @example
 * sweepTarget({ taskId: 't-1' }); // { taskId: 't-1' }
 */
export function sweepTarget(event: unknown): { taskId: string } | undefined {
  const taskId = (event as SweepEvent | undefined)?.taskId;
  return typeof taskId === 'string' && taskId.length > 0 && taskId.length <= 128 ? { taskId } : undefined;
}
