/**
 * The task service on AWS: lib/service's TaskService with the AWS ports. Submissions create the record (status
 * queued) and then send `{ taskId, accountId, source, prompt }` to SQS; reads are scoped to the caller's
 * account (from the authorizer, never the body); cancel also stops the durable execution; an approval
 * completes the paused execution's callback.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ListDurableExecutionsByFunctionCommand, StopDurableExecutionCommand } from '@aws-sdk/client-lambda';
import { ApprovalBodySchema, parseBody, TaskService, type TaskQueueSender } from '../task/index.js';
import { isTerminal, type TaskRecord } from '../task/index.js';
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

/**
 * The task service of lib/service whose runs are Lambda durable executions: cancel also stops the running
 * execution (a run paused on an approval would otherwise never see the cancel), and an approval completes
 * the execution's callback.
 *
 * @example
 * const service = new DurableTaskService({ store, queue, lambda, agentFunctionName: config.aws.agentFunctionName! });
 * await service.cancel('acct-1', taskId);
 */
export class DurableTaskService extends TaskService {
  constructor(private readonly deps: DurableTaskServiceDeps) {
    super({
      store: deps.store,
      queue: sqsSender(deps.store, deps.queue),
      ...(deps.schedules ? { schedules: deps.schedules } : {}),
      ...(deps.newId ? { newId: deps.newId } : {}),
    });
  }

  override async cancel(accountId: string, taskId: string): Promise<TaskRecord> {
    const before = await this.get(accountId, taskId);
    const updated = await super.cancel(accountId, taskId);
    if (before.status === 'queued' || isTerminal(before.status)) return updated;
    const listed = await this.deps.lambda.send(
      new ListDurableExecutionsByFunctionCommand({ FunctionName: this.deps.agentFunctionName, DurableExecutionName: taskId, Statuses: ['RUNNING'] }),
    );
    let stopped = 0;
    for (const e of listed.DurableExecutions ?? []) {
      if (!e.DurableExecutionArn) continue;
      await this.deps.lambda.send(
        new StopDurableExecutionCommand({ DurableExecutionArn: e.DurableExecutionArn, Error: { ErrorType: 'Cancelled', ErrorMessage: 'the task was cancelled' } }),
      );
      stopped++;
    }
    if (stopped === 0) return updated;
    // A stopped execution never reaches its own end, so the task's last event is written here.
    const final = await this.deps.store.update(taskId, { finishedAt: new Date().toISOString() });
    await this.deps.store.appendEvent(taskId, 'task.cancelled', { error: updated.error, by: 'caller' });
    return final;
  }

  override async approve(accountId: string, taskId: string, approvalId: string, body: unknown): Promise<{ approvalId: string; approve: boolean }> {
    const decision = parseBody(ApprovalBodySchema, body, 'approval');
    await this.get(accountId, taskId);
    await resolveApproval({ lambda: this.deps.lambda, approvals: this.deps.store, taskId, approvalId, decision });
    return { approvalId, approve: decision.approve };
  }
}
