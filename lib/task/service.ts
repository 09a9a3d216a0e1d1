/**
 * The task service: submit, read, cancel and approve tasks for an authenticated account. Runtime-independent:
 * it only talks to the ports it is given, so the local `serve` and the API Lambda share it.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { DeepAgentError } from '../errors/index.js';
import type { TaskPage, TaskStore } from './store.js';
import { checkTaskSecrets, type AccountCredentialFields } from './task-secrets.js';
import {
  isTerminal,
  newTaskRecord,
  SubmitTaskSchema,
  TaskListParamsSchema,
  type SubmitTask,
  type TaskEvent,
  type TaskRecord,
  type TaskSource,
} from './schema.js';
import {
  ApprovalBodySchema,
  ScheduleBodySchema,
  type ApprovalResolver,
  type ScheduleBackend,
  type TaskQueueSender,
} from './service-ports.js';

export interface TaskServiceOptions {
  store: TaskStore;
  queue: TaskQueueSender;
  approvals?: ApprovalResolver;
  schedules?: ScheduleBackend;
  /**
   * Called after a started task (running or waiting for approval) is marked cancelled, so a worker in this
   * process can stop it at once. When no run will record the end (a parked task), it may write the end itself
   * and return the final record, which `cancel` then returns.
   */
  onCancel?(taskId: string): void | TaskRecord | Promise<void | TaskRecord>;
  /** A runtime's own rule on a valid submission (e.g. what fits one durable execution); throws to refuse it. */
  checkSubmit?(input: SubmitTask): void;
  /**
   * The accounts' stored credentials, by name: a task's `secrets` must name credentials its account holds (400
   * otherwise). @default none: a task with secrets is refused
   */
  credentials?: AccountCredentialFields;
  /** @default randomUUID */
  newId?(): string;
}

/** Parses `input` with `schema`, or throws `invalid_input` naming the first bad field in one line. */
export function parseBody<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new DeepAgentError('invalid_input', `invalid ${what}: ${where}${issue.message}`);
}

const notFound = (id: string) => new DeepAgentError('not_found', `task ${id} does not exist`);

/**
 * Submit / get / events / cancel / approve, scoped to the caller's account (another account's task is
 * `not_found`). Nothing reaches the queue before it is validated and stored.
 *
 * @example
 * const service = new TaskService({ store, queue: { send: (m) => sqliteQueue.send(m) } });
 * const { record } = await service.submit('local', { prompt: 'say hi' });
 */
export class TaskService {
  constructor(private readonly options: TaskServiceOptions) {}

  get schedulesEnabled(): boolean {
    return this.options.schedules !== undefined;
  }

  /**
   * Validates, stores and queues a task. The same idempotency key (per account) returns the existing task
   * with `created: false`.
   */
  async submit(accountId: string, body: unknown, source: TaskSource = 'http'): Promise<{ record: TaskRecord; created: boolean }> {
    const input: SubmitTask = parseBody(SubmitTaskSchema, body, 'task');
    this.options.checkSubmit?.(input);
    await checkTaskSecrets(accountId, input.secrets ?? [], this.options.credentials);
    const id = this.options.newId?.() ?? randomUUID();
    const { record, created } = await this.options.store.create(newTaskRecord({ ...input, id, source, accountId }));
    if (created) await this.options.store.appendEvent(id, 'task.queued', { source });
    // Queued but possibly never sent (a crash between the two writes): sending again is harmless.
    if (record.status === 'queued') await this.options.queue.send({ taskId: record.id, accountId });
    return { record, created };
  }

  /** The task record; `not_found` for an unknown id or another account's task. */
  async get(accountId: string, taskId: string): Promise<TaskRecord> {
    const record = await this.options.store.get(taskId);
    if (!record || (record.accountId ?? '') !== accountId) throw notFound(taskId);
    return record;
  }

  /**
   * The caller's tasks, newest first, one page at a time. `query` is the raw query string map of
   * `GET /tasks` (`status` may list several, comma-separated); a bad value is `invalid_input`.
   */
  async list(accountId: string, query: Record<string, string | undefined>): Promise<TaskPage> {
    const q = parseBody(TaskListParamsSchema, query, 'task list query');
    return this.options.store.listTasks({ accountId, ...q });
  }

  /** Events with `seq > after`, in order. */
  async events(accountId: string, taskId: string, after = 0, limit = 1_000): Promise<TaskEvent[]> {
    await this.get(accountId, taskId);
    return this.options.store.listEvents(taskId, after, limit);
  }

  /**
   * Stops a task. A queued task is cancelled at once (the worker never starts it); a running one is marked
   * cancelled, and its run stops at once in this process or between model turns anywhere else. Cancelling a
   * finished task changes nothing and returns it.
   */
  async cancel(accountId: string, taskId: string): Promise<TaskRecord> {
    const record = await this.get(accountId, taskId);
    if (isTerminal(record.status)) return record;
    const error = { code: 'cancelled', message: 'the task was cancelled' };
    const updated = await this.options.store.update(taskId, {
      status: 'cancelled',
      error,
      ...(record.status === 'queued' ? { finishedAt: new Date().toISOString() } : {}),
    });
    // A running task's own loop records task.cancelled when it stops; a queued one has no loop yet.
    if (record.status === 'queued') await this.options.store.appendEvent(taskId, 'task.cancelled', { error, steps: 0 });
    else return (await this.options.onCancel?.(taskId)) ?? updated;
    return updated;
  }

  /** Approves or denies a paused tool call of the caller's task. */
  async approve(accountId: string, taskId: string, approvalId: string, body: unknown): Promise<{ approvalId: string; approve: boolean }> {
    const decision = parseBody(ApprovalBodySchema, body, 'approval');
    await this.get(accountId, taskId);
    const approvals = this.options.approvals;
    if (!approvals) throw new DeepAgentError('not_implemented', 'approvals are not available in this runtime');
    await approvals.resolve(taskId, approvalId, decision);
    return { approvalId, approve: decision.approve };
  }

  async createSchedule(accountId: string, body: unknown): Promise<object> {
    const input = parseBody(ScheduleBodySchema, body, 'schedule');
    return this.scheduleBackend().create(input, accountId);
  }

  async listSchedules(accountId: string): Promise<object[]> {
    return this.scheduleBackend().list(accountId);
  }

  async deleteSchedule(accountId: string, id: string): Promise<void> {
    await this.scheduleBackend().delete(id, accountId);
  }

  private scheduleBackend(): ScheduleBackend {
    if (!this.options.schedules) throw new DeepAgentError('not_implemented', 'schedules are not available in this runtime');
    return this.options.schedules;
  }
}
