/**
 * The local queue worker: takes task messages from the SQLite queue and runs them with a persisted step
 * journal, so a crashed or stopped worker's tasks resume where they were.
 */
import { isSuspension, runTask, type ApprovalPolicy, type RunTaskOptions } from '../agent/index.js';
import { hasCode, isRetryable, toErrorInfo } from '../errors/index.js';
import type { ReceivedMessage } from './queue.js';
import type { LocalStorage } from './storage.js';
import type { ModelClient } from '../model/index.js';
import type { SandboxProvider } from '../sandbox/index.js';
import type { TaskStore } from '../task/index.js';
import { isTerminal, type TaskRecord } from '../task/index.js';
import type { Tool } from '../tools/index.js';

/** The error a dead message keeps: the task's own, as `code: message`. */
const deadLetterError = (record: TaskRecord): string => `${record.error?.code ?? 'failed'}: ${record.error?.message ?? 'the task failed'}`;

export interface TaskWorkerOptions {
  storage: Pick<LocalStorage, 'queue' | 'journal'>;
  /** Where records and events go. @default storage.tasks */
  store: TaskStore;
  model: ModelClient;
  sandboxProvider: SandboxProvider;
  tools?: Tool[];
  approvalPolicy?: ApprovalPolicy;
  /** Per-task tools and instructions (e.g. only the MCP servers a task selected); wins over `tools`. */
  taskOptions?(record: TaskRecord): Partial<Pick<RunTaskOptions, 'tools' | 'latestTools' | 'approvalPolicy' | 'instructions' | 'startInfo' | 'resources'>>;
  /** Reads the values of a task's `secrets` when it runs (see `RunTaskOptions.taskSecrets`). */
  taskSecrets?: RunTaskOptions['taskSecrets'];
  /** Tasks run at once. @default 2 */
  concurrency?: number;
  /** A received message stays hidden this long; a heartbeat extends it while the task runs. @default 60 */
  visibilityTimeoutSeconds?: number;
  /** How often an idle worker looks for messages (it is also woken by `wake()`). @default 200 */
  pollIntervalMs?: number;
  /** Delay before a failed attempt is delivered again. @default 1 */
  retryDelaySeconds?: number;
  /** Called with errors of the worker itself (not of tasks, which are recorded on the task). */
  onError?(error: unknown): void;
  /** Called when a task's run ends (for logs). */
  onTaskDone?(taskId: string): void | Promise<void>;
}

interface InFlight {
  message: ReceivedMessage;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Runs queued tasks, `concurrency` at a time.
 *
 * - A transient failure (model or sandbox infrastructure) is retried through the queue (`task.retrying`);
 *   after the queue's last attempt the task is `failed` with the last error. A non-retryable error (a model
 *   400/401/403/404/413, invalid input, a budget) is `failed` after one attempt, and its message is dead at
 *   once with the error (`queue.listDead`): recorded by the loop, or by the worker when thrown from elsewhere.
 * - `attempts` on the record counts deliveries.
 * - A task that needs a person's approval is parked, as a durable function suspends on a callback: its run
 *   stops, its message is deleted and its slot is free, while the record stays `waiting_approval` and the
 *   approval `pending`. Resolving the approval must queue the task again (`resume`); the next run replays the
 *   journal (no finished step runs again) and gets the decision at once.
 * - `cancel(taskId)` aborts a task running here at once.
 * - `stop(graceMs)` stops receiving, waits for running tasks up to the grace period, then releases the
 *   messages of those still running so that the next start resumes them from the journal.
 *
 * @example
 * const worker = new TaskWorker({ storage, store: storage.tasks, model, sandboxProvider });
 * worker.start();
 * // ...
 * await worker.stop(10_000);
 */
export class TaskWorker {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly settling = new Set<string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly concurrency: number;
  private readonly visibility: number;

  constructor(private readonly options: TaskWorkerOptions) {
    this.concurrency = options.concurrency ?? 2;
    this.visibility = options.visibilityTimeoutSeconds ?? 60;
  }

  /** Task ids running now. */
  get active(): string[] {
    return [...this.inFlight.keys()];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.receiveLoop();
  }

  /** Looks at the queue now instead of at the next poll (call it after sending). */
  wake(): void {
    this.wakeUp?.();
  }

  /**
   * Queues a parked task again, e.g. after its approval was resolved (a task that is already queued or
   * running here is not queued twice).
   */
  resume(taskId: string): void {
    this.options.storage.queue.send({ taskId });
    this.wake();
  }

  /**
   * Writes the end of a cancelled task that no run will record (parked for an approval, between attempts,
   * or cancelled just as it was received): `finishedAt` and one `task.cancelled` event. Does nothing for any
   * other task or one already ended. Returns the record.
   */
  async settleCancelled(taskId: string): Promise<TaskRecord | undefined> {
    const { store } = this.options;
    const record = await store.get(taskId);
    if (record?.status !== 'cancelled' || record.finishedAt || this.settling.has(taskId)) return record;
    this.settling.add(taskId);
    try {
      const final = await store.update(taskId, { finishedAt: new Date().toISOString() });
      await store.appendEvent(taskId, 'task.cancelled', { error: final.error, usage: final.usage, steps: final.steps });
      await this.closeLeftSandbox(taskId);
      await this.options.onTaskDone?.(taskId);
      return final;
    } finally {
      this.settling.delete(taskId);
    }
  }

  /** A parked run leaves a cloud sandbox paused for its next run; a task that ends without one closes it here. */
  private async closeLeftSandbox(taskId: string): Promise<void> {
    const { sandboxProvider } = this.options;
    const record = await this.options.store.get(taskId);
    // What the task owned besides its sandbox (the E2B MCP gateway, left paused by the parked run).
    for (const resource of (record && this.options.taskOptions?.(record).resources) ?? []) {
      const id = record?.resourceSandboxIds?.[resource.name];
      if (id) await resource.release({ parked: false, id }).catch(() => {});
    }
    if (!sandboxProvider.connect) return;
    // The run records each sandbox it creates on the task record.
    const sandboxIds = record?.sandboxIds ?? [];
    for (const sandboxId of sandboxIds) {
      // Best effort: a sandbox that an earlier run already closed (or that expired) is simply not there.
      await sandboxProvider
        .connect(sandboxId, { taskId })
        .then((sandbox) => sandbox.close())
        .catch(() => {});
    }
  }

  /** Aborts a task running in this worker; true when it was running here. */
  cancel(taskId: string): boolean {
    const f = this.inFlight.get(taskId);
    f?.controller.abort();
    return f !== undefined;
  }

  /**
   * Stops receiving; waits up to `graceMs` for running tasks, then releases the messages of the rest (they
   * are delivered again at once to the next worker, which resumes them from the journal).
   */
  async stop(graceMs = 10_000): Promise<{ finished: number; released: string[] }> {
    this.running = false;
    this.wake();
    await this.loop;
    const pending = [...this.inFlight.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending.map((f) => f.done)), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    const released: string[] = [];
    for (const [taskId, f] of this.inFlight) {
      this.options.storage.queue.changeVisibility(f.message.receiptHandle, 0);
      released.push(taskId);
    }
    this.inFlight.clear();
    return { finished: pending.length - released.length, released };
  }

  private async receiveLoop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inFlight.size;
      let received: ReceivedMessage[] = [];
      if (free > 0) {
        try {
          received = this.options.storage.queue.receive({ visibilityTimeoutSeconds: this.visibility, max: free });
        } catch (e) {
          this.options.onError?.(e);
        }
      }
      for (const message of received) this.begin(message);
      if (received.length === 0 || this.inFlight.size >= this.concurrency) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, this.options.pollIntervalMs ?? 200);
          function done() {
            clearTimeout(t);
            resolve();
          }
          this.wakeUp = done;
        });
        this.wakeUp = undefined;
      }
    }
  }

  private begin(message: ReceivedMessage): void {
    const controller = new AbortController();
    const entry: InFlight = { message, controller, done: Promise.resolve() };
    this.inFlight.set(message.taskId, entry);
    entry.done = this.process(message, controller)
      .catch((e) => this.options.onError?.(e))
      .finally(() => {
        if (this.inFlight.get(message.taskId) === entry) this.inFlight.delete(message.taskId);
        this.wake();
      });
  }

  private async process(message: ReceivedMessage, controller: AbortController): Promise<void> {
    const { queue } = this.options.storage;
    const { store } = this.options;
    const { taskId, receiptHandle, receiveCount } = message;
    const record = await store.get(taskId);
    if (!record || isTerminal(record.status)) {
      // Unknown, finished, or cancelled while queued or parked: not run (again).
      queue.delete(receiptHandle);
      await this.settleCancelled(taskId);
      return;
    }
    // A resumed (once parked) task starts a new message; its record keeps counting from the earlier ones.
    await store.update(taskId, { attempts: Math.max(record.attempts, receiveCount) });
    // A lost message (stale receipt) is not aborted here: aborting would record the task as cancelled.
    const heartbeat = setInterval(() => queue.changeVisibility(receiptHandle, this.visibility), Math.max(100, (this.visibility * 1000) / 3));
    heartbeat.unref();
    const perTask = this.options.taskOptions?.(record) ?? {};
    const journal = this.options.storage.journal(taskId, { signal: controller.signal });
    try {
      const final = await runTask({
        taskId,
        store,
        model: this.options.model,
        sandboxProvider: this.options.sandboxProvider,
        journal: journal.suspending(),
        tools: this.options.tools ?? [],
        signal: controller.signal,
        rethrowTransient: true,
        ...(this.options.approvalPolicy ? { approvalPolicy: this.options.approvalPolicy } : {}),
        ...(this.options.taskSecrets ? { taskSecrets: this.options.taskSecrets } : {}),
        ...perTask,
      });
      // A run that ended failed could not succeed (transient errors are rethrown, not returned): the loop has
      // recorded the failure and its event; the message goes to the dead state with the error, as on a DLQ.
      if (final.status === 'failed') queue.fail(receiptHandle, deadLetterError(final), { permanent: true });
      else queue.delete(receiptHandle);
      // Cancelled between the read above and the run's own first read: the run returned without an end.
      if (final.status === 'cancelled' && !final.finishedAt) await this.settleCancelled(taskId);
    } catch (e) {
      if (isSuspension(e)) {
        queue.delete(receiptHandle);
        // Decided between the run's last look and the delete: that decision's resume found the message still
        // here (and sent nothing), so the task is queued again here.
        const approvalId = (e as { data?: { approvalId?: string } }).data?.approvalId;
        const approval = approvalId ? journal.getApproval(approvalId) : undefined;
        if (approval && approval.status !== 'pending') this.resume(taskId);
        await this.settleCancelled(taskId); // cancelled while it was parking: the abort came too late for the run
        await this.options.onTaskDone?.(taskId);
        return;
      }
      if (!this.running && hasCode(e, 'cancelled')) return; // stopping: the message is released by stop()
      const info = toErrorInfo(e);
      // The loop records a non-retryable failure itself; one thrown from elsewhere is dead at once, not retried.
      const outcome = queue.fail(receiptHandle, `${info.code}: ${info.message}`, { retryDelaySeconds: this.options.retryDelaySeconds ?? 1, permanent: !isRetryable(e) });
      if (outcome.state === 'retry') {
        await store.appendEvent(taskId, 'task.retrying', { scope: 'task', attempt: receiveCount, maxAttempts: queue.maxReceiveCount, error: info });
      } else if (outcome.state === 'dead') {
        const failed = await store.update(taskId, { status: 'failed', error: info, finishedAt: new Date().toISOString(), attempts: receiveCount });
        await store.appendEvent(taskId, 'task.failed', { error: info, attempts: receiveCount, usage: failed.usage, steps: failed.steps });
        // No run follows: what the last one left paused for its retry (the MCP gateway) is killed here.
        await this.closeLeftSandbox(taskId);
      }
    } finally {
      clearInterval(heartbeat);
    }
    await this.options.onTaskDone?.(taskId);
  }
}

