/**
 * The durable agent function's logic: load the task, build the runtime (model, sandbox, tools) from the
 * secrets, and run the core with a `DurableJournal`. `lambdas/agent.ts` wraps it in `withDurableExecution`.
 *
 * Everything outside a journal step runs again on every replay, so this function does only reads and
 * construction there; the core puts each write (record updates, events) inside a step. The one exception is
 * an execution that fails (a throw out of `prepare` or the core): no replay follows it, so the failure is
 * written to the record and the task's sandboxes are killed there and then.
 */
import type { DurableContext } from '@aws/durable-execution-sdk-js';
import { isSuspension, type RunTaskOptions, type StepJournal } from '../agent/index.js';
import { DeepAgentError, toErrorInfo } from '../errors/index.js';
import { isTerminal, type TaskRecord } from '../task/index.js';
import { DurableJournal } from './durable-journal.js';
import type { AgentEvent } from './lambda-events.js';
import type { S3TaskStore } from './s3-task-store.js';

/** What `prepare` builds for one run (everything of RunTaskOptions that is not the task, store or journal). */
export type AgentRuntime = Omit<RunTaskOptions, 'taskId' | 'store' | 'journal'> & { close?(): Promise<void> };

export interface AgentHandlerDeps {
  store: S3TaskStore;
  runTask(options: RunTaskOptions): Promise<TaskRecord>;
  /** Builds the model client, sandbox provider and tools for a task (reads secrets; called per invocation). */
  prepare(record: TaskRecord): Promise<AgentRuntime>;
  /** @default a DurableJournal spilling large results to the store */
  journalFor?(context: DurableContext, taskId: string): StepJournal;
  /** Called once, when the run reaches its end (metrics). */
  onFinished?(record: TaskRecord): void;
}

/** The execution's result: small on purpose (the record lives in S3). */
export interface AgentResult {
  taskId: string;
  status: TaskRecord['status'];
}

/**
 * Creates the durable handler body.
 *
 * @example
 * export const handler = withDurableExecution(createAgentHandler({ store, runTask, prepare }));
 */
export function createAgentHandler(deps: AgentHandlerDeps): (event: AgentEvent, context: DurableContext) => Promise<AgentResult> {
  return async (event, context) => {
    const taskId = typeof event?.taskId === 'string' ? event.taskId : '';
    if (!taskId) throw new DeepAgentError('invalid_input', 'the agent event has no taskId');
    const record = await deps.store.get(taskId);
    if (!record) throw new DeepAgentError('not_found', `task ${taskId} does not exist`);
    const journal =
      deps.journalFor?.(context, taskId) ?? new DurableJournal(context, { taskId, transcripts: deps.store, approvals: deps.store });
    let runtime: AgentRuntime | undefined;
    let final: TaskRecord;
    try {
      runtime = await deps.prepare(record);
      final = await deps.runTask({ ...runtime, taskId, store: deps.store, journal });
    } catch (e) {
      // The execution ends FAILED here and no replay follows: record why and kill what the task owns.
      if (!isSuspension(e)) await settleFailedExecution(deps.store, taskId, e, runtime);
      throw e;
    } finally {
      await runtime?.close?.().catch(() => {});
    }
    deps.onFinished?.(final);
    // A task that failed and says why on its record (budget, model refusal, bad input) is an outcome, counted
    // by the TasksFailed metric; the execution succeeds. Only what never reached the record (a crash, a
    // timeout, an unreadable store) fails the execution, so the failure queue and its alarm mean "look at us".
    return { taskId, status: final.status };
  };
}

/**
 * The end of an execution that failed outside the task's own logic (secrets unreadable, the store down, a bug):
 * the record says `failed` with the error (a terminal task is left as it is), and the sandboxes the record
 * names are killed where this run can reach them: the task's through its sandbox provider, its resources'
 * (the MCP gateway) through them. When `prepare` itself failed there is no provider: the record is terminal,
 * so the sweeper's rule kills them on its next run. Best effort throughout: the original error is what counts.
 */
async function settleFailedExecution(store: S3TaskStore, taskId: string, error: unknown, runtime: AgentRuntime | undefined): Promise<void> {
  const info = toErrorInfo(error);
  const record = await store.get(taskId).catch(() => undefined);
  if (record && !isTerminal(record.status)) {
    await store
      .update(taskId, { status: 'failed', error: { code: info.code, message: info.message }, finishedAt: new Date().toISOString() })
      .then(() => store.appendEvent(taskId, 'task.failed', { error: { code: info.code, message: info.message }, usage: record.usage, steps: record.steps }))
      .catch(() => {});
  }
  if (!runtime || !record) return;
  const provider = runtime.sandboxProvider;
  for (const id of record.sandboxIds ?? []) {
    if (!provider.connect) break;
    await provider
      .connect(id, { taskId })
      .then((s) => s.close())
      .catch(() => {}); // gone already
  }
  for (const resource of runtime.resources ?? []) {
    const id = record.resourceSandboxIds?.[resource.name];
    await resource.release({ parked: false, ...(id ? { id } : {}) }).catch(() => {});
  }
}
