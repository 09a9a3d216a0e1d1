/**
 * The Lambda side of the task service: what the HTTP app needs on AWS. Submissions create the record (status
 * queued) and then send `{ taskId, accountId, source: "http", prompt }` to the queue; reads are scoped to the
 * caller's account (from the authorizer, never the body); cancel stops the durable execution; an approval
 * completes the paused execution's callback.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ListDurableExecutionsByFunctionCommand, StopDurableExecutionCommand } from '@aws-sdk/client-lambda';
import type { ApprovalDecision } from '../agent/journal.js';
import { DeepAgentError } from '../errors/index.js';
import { isTerminal, newTaskRecord, SubmitTaskSchema, type TaskEvent, type TaskRecord } from '../task/index.js';
import type { LambdaSender } from './dispatcher.js';
import { resolveApproval } from './durable-journal.js';
import type { S3TaskStore } from './s3-task-store.js';
import type { EventBridgeSchedules } from './schedules.js';
import { formatTaskMessage, type TaskMessage } from './task-message.js';

export type SqsSender = Pick<SQSClient, 'send'>;

/**
 * The SQS task queue as a sender of task messages.
 *
 * @example
 * await new SqsTaskQueue(sqs, process.env.TASK_QUEUE_URL!).send({ taskId, prompt, source: 'http' });
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

export interface AwsTaskServiceDeps {
  store: S3TaskStore;
  queue: SqsTaskQueue;
  lambda: LambdaSender;
  /** The agent function's qualified name (alias), as in AGENT_FUNCTION_NAME. */
  agentFunctionName: string;
  schedules?: EventBridgeSchedules;
  newId?: () => string;
}

export interface AwsTaskService {
  submit(accountId: string, body: unknown): Promise<{ taskId: string; status: TaskRecord['status']; created: boolean }>;
  get(accountId: string, taskId: string): Promise<TaskRecord>;
  events(accountId: string, taskId: string, after?: number): Promise<TaskEvent[]>;
  cancel(accountId: string, taskId: string): Promise<TaskRecord>;
  approve(accountId: string, taskId: string, approvalId: string, decision: ApprovalDecision): Promise<void>;
  schedules?: EventBridgeSchedules;
}

/**
 * Builds the AWS task service from its adapters.
 *
 * @example
 * const service = createAwsTaskService({ store, queue, lambda, agentFunctionName });
 * const { taskId } = await service.submit(accountIdFromRequestContext(event.requestContext)!, body);
 */
export function createAwsTaskService(deps: AwsTaskServiceDeps): AwsTaskService {
  const newId = deps.newId ?? (() => randomUUID());
  const owned = async (accountId: string, taskId: string): Promise<TaskRecord> => {
    const record = await deps.store.get(taskId);
    // Another account's task is reported exactly like a missing one.
    if (!record || record.accountId !== accountId) throw new DeepAgentError('not_found', `task ${taskId} does not exist`);
    return record;
  };
  return {
    schedules: deps.schedules,
    async submit(accountId, body) {
      const parsed = SubmitTaskSchema.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new DeepAgentError('invalid_input', `${issue.path.join('.') || 'body'}: ${issue.message}`);
      }
      const { record, created } = await deps.store.create(newTaskRecord({ ...parsed.data, id: newId(), source: 'http', accountId }));
      if (created) {
        await deps.store.appendEvent(record.id, 'task.queued', { source: 'http' });
        await deps.queue.send({ taskId: record.id, accountId, source: 'http', prompt: record.prompt });
      }
      return { taskId: record.id, status: record.status, created };
    },
    get: owned,
    async events(accountId, taskId, after) {
      await owned(accountId, taskId);
      return deps.store.listEvents(taskId, after);
    },
    async cancel(accountId, taskId) {
      const record = await owned(accountId, taskId);
      if (isTerminal(record.status)) return record;
      const listed = await deps.lambda.send(
        new ListDurableExecutionsByFunctionCommand({ FunctionName: deps.agentFunctionName, DurableExecutionName: taskId, Statuses: ['RUNNING'] }),
      );
      for (const e of listed.DurableExecutions ?? []) {
        if (e.DurableExecutionArn) {
          await deps.lambda.send(
            new StopDurableExecutionCommand({ DurableExecutionArn: e.DurableExecutionArn, Error: { ErrorType: 'Cancelled', ErrorMessage: 'cancelled by the caller' } }),
          );
        }
      }
      const cancelled = await deps.store.update(taskId, {
        status: 'cancelled',
        finishedAt: new Date().toISOString(),
        error: { code: 'cancelled', message: 'cancelled by the caller' },
      });
      await deps.store.appendEvent(taskId, 'task.cancelled', { by: 'caller' });
      return cancelled;
    },
    async approve(accountId, taskId, approvalId, decision) {
      await owned(accountId, taskId);
      await resolveApproval({ lambda: deps.lambda, approvals: deps.store, taskId, approvalId, decision });
    },
  };
}
