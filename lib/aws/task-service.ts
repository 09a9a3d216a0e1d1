/**
 * The task service on AWS: lib/service's TaskService with the AWS ports. Submissions create the record (status
 * queued) and then send `{ taskId, accountId, source, prompt }` to SQS; reads are scoped to the caller's
 * account (from the authorizer, never the body); cancel also stops the durable execution; an approval
 * completes the paused execution's callback.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ListDurableExecutionsByFunctionCommand, StopDurableExecutionCommand } from '@aws-sdk/client-lambda';
import { maxStepsWithin } from '../agent/index.js';
import { DeepAgentError } from '../errors/index.js';
import { TaskService, type AccountCredentialFields, type ApprovalDecision, type ApprovalResolver, type SubmitTask, type TaskQueueSender, type TaskRecord } from '../task/index.js';
import type { LambdaSender } from './dispatcher.js';
import { approvalKey, DURABLE_OPERATION_QUOTA, resolveApproval } from './durable-journal.js';
import type { S3TaskStore } from './s3-task-store.js';
import type { EventBridgeSchedules } from './schedules.js';
import { formatTaskMessage, type TaskMessage } from './task-message.js';

export type SqsSender = Pick<SQSClient, 'send'>;

/**
 * The SQS task queue as a sender of task messages.
 *
 * @example
 * await new SqsTaskQueue(sqs, config.aws.taskQueueUrl!).send({ taskId, prompt, source: 'http' });
 */
export class SqsTaskQueue {
  constructor(
    private readonly sqs: SqsSender,
    readonly queueUrl: string,
  ) {}

  async send(message: TaskMessage): Promise<string> {
    const out = await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: formatTaskMessage(message) }));
    return out.MessageId ?? '';
  }
}

export interface DurableTaskServiceDeps {
  store: S3TaskStore;
  queue: SqsTaskQueue;
  lambda: LambdaSender;
  /** The agent function's qualified name (alias), as in AGENT_FUNCTION_NAME. */
  agentFunctionName: string;
  schedules?: EventBridgeSchedules;
  newId?: () => string;
  /**
   * Called after cancel stopped a durable execution: nothing of that run will close its sandboxes, so this
   * kills them (the API function asks the sandbox sweeper to, by task id).
   * @default nothing (the scheduled sweeper still finds them)
   */
  onExecutionStopped?(taskId: string): Promise<void>;
  /** The accounts' connection credentials by name (AwsMcpConnections): a task's `secrets` are checked against them. @default none: a task with secrets is refused */
  credentials?: AccountCredentialFields;
  /** Operations one durable execution may hold (bounds `budget.maxSteps` at submit). @default DURABLE_OPERATION_QUOTA */
  operationQuota?: number;
}

/**
 * Sends a stored task to SQS in the documented message format (`{ taskId, accountId, source, prompt }`), so a
 * message read off the queue is self-describing.
 */
function sqsSender(store: S3TaskStore, queue: SqsTaskQueue): TaskQueueSender {
  return {
    async send({ taskId, accountId }) {
      const record = await store.get(taskId);
      const source = record?.source === 'cli' || !record ? 'http' : record.source;
      await queue.send({ taskId, ...(accountId ? { accountId } : {}), source, prompt: record?.prompt ?? '(missing)' });
    },
  };
}

/** The ARNs of the task's durable execution: the one the dispatcher recorded, else a lookup by name (older records). */
async function executionArns(deps: DurableTaskServiceDeps, record: TaskRecord | undefined, taskId: string): Promise<string[]> {
  if (record?.durableExecutionArn) return [record.durableExecutionArn];
  const listed = await deps.lambda.send(
    new ListDurableExecutionsByFunctionCommand({ FunctionName: deps.agentFunctionName, DurableExecutionName: taskId, Statuses: ['RUNNING'] }),
  );
  return (listed.DurableExecutions ?? []).flatMap((e) => (e.DurableExecutionArn ? [e.DurableExecutionArn] : []));
}

/** An execution that already ended (or never existed) cannot be stopped: its own run records the end. */
const isClosedExecution = (e: unknown) => /ResourceNotFound|ResourceConflict|InvalidParameterValue/.test((e as { name?: string })?.name ?? '');

/**
 * The cancel hook: stops the task's durable execution by ARN. A stopped execution never reaches its own end,
 * so the end (finishedAt, `task.cancelled`) is written here and its sandboxes are killed.
 */
async function stopExecution(deps: DurableTaskServiceDeps, taskId: string): Promise<TaskRecord | undefined> {
  const record = await deps.store.get(taskId);
  let stopped = 0;
  for (const arn of await executionArns(deps, record, taskId)) {
    try {
      await deps.lambda.send(
        new StopDurableExecutionCommand({ DurableExecutionArn: arn, Error: { ErrorType: 'Cancelled', ErrorMessage: 'the task was cancelled' } }),
      );
      stopped++;
    } catch (e) {
      if (!isClosedExecution(e)) throw e;
    }
  }
  if (stopped === 0) return undefined;
  const final = await deps.store.update(taskId, { finishedAt: new Date().toISOString() });
  await deps.store.appendEvent(taskId, 'task.cancelled', { error: final.error, by: 'caller' });
  await deps.onExecutionStopped?.(taskId);
  return final;
}

/** Where a decided approval is remembered (so a second decision answers 409, not 404). */
export const decidedApprovalKey = (taskId: string, approvalId: string) => `tasks/${taskId}/approvals/decided/${approvalId}.json`;

/**
 * Decides a paused approval once. The decision is claimed with a conditional create, so of two concurrent
 * decisions one wins and the other gets `conflict` (409), as does any later one; the pending document (with
 * its callback id) is removed once the decision reached the execution.
 */
async function decideOnce(deps: DurableTaskServiceDeps, taskId: string, approvalId: string, decision: ApprovalDecision): Promise<void> {
  const decided = decidedApprovalKey(taskId, approvalId);
  const alreadyDecided = () => new DeepAgentError('conflict', `approval ${approvalId} of task ${taskId} was already decided`);
  const pending = await deps.store.getDocument(approvalKey(taskId, approvalId));
  if (!pending) {
    if (await deps.store.getDocument(decided)) throw alreadyDecided();
    throw new DeepAgentError('not_found', `task ${taskId} has no pending approval ${approvalId}`);
  }
  if (!(await deps.store.createDocument(decided, { ...decision, decidedAt: new Date().toISOString() }))) throw alreadyDecided();
  try {
    await resolveApproval({ lambda: deps.lambda, approvals: deps.store, taskId, approvalId, decision });
  } catch (e) {
    // Not delivered: free the claim, so the caller can try again.
    await deps.store.deleteDocument(decided).catch(() => {});
    throw e;
  }
  await deps.store.deleteDocument(approvalKey(taskId, approvalId));
}

/** The approval port on durable callbacks: decided once (409 after), through the execution's callback. */
function durableApprovals(deps: DurableTaskServiceDeps): ApprovalResolver {
  return { resolve: (taskId, approvalId, decision) => decideOnce(deps, taskId, approvalId, decision) };
}

/** Refuses (400) a `maxSteps` whose turns could not all fit in one durable execution's operation quota. */
function refuseUnfittingSteps(input: SubmitTask, fits: number): void {
  const maxSteps = input.budget?.maxSteps;
  if (maxSteps !== undefined && maxSteps > fits) {
    throw new DeepAgentError('invalid_input', `invalid task: budget.maxSteps: at most ${fits} model turns fit in one durable execution (${maxSteps} asked)`);
  }
}

/**
 * The task service of lib/task whose runs are Lambda durable executions, through the service's own hooks:
 * cancel also stops the running execution (a run paused on an approval would otherwise never see the cancel),
 * an approval completes the execution's callback, and a submit whose step budget cannot fit is refused.
 *
 * @example
 * const service = new DurableTaskService({ store, queue, lambda, agentFunctionName: config.aws.agentFunctionName! });
 * await service.cancel('acct-1', taskId);
 */
export class DurableTaskService extends TaskService {
  constructor(deps: DurableTaskServiceDeps) {
    const fits = maxStepsWithin(deps.operationQuota ?? DURABLE_OPERATION_QUOTA);
    super({
      store: deps.store,
      queue: sqsSender(deps.store, deps.queue),
      approvals: durableApprovals(deps),
      ...(deps.schedules ? { schedules: deps.schedules } : {}),
      ...(deps.newId ? { newId: deps.newId } : {}),
      onCancel: (taskId) => stopExecution(deps, taskId),
      checkSubmit: (input) => refuseUnfittingSteps(input, fits),
      ...(deps.credentials ? { credentials: deps.credentials } : {}),
    });
  }
}
