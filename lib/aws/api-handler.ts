/**
 * The API function's logic: the one HTTP app (lib/http) on the one task service (lib/service), with the AWS
 * ports: S3 task store, SQS task queue, EventBridge schedules, durable-execution stop and callbacks. The account
 * id comes from the Lambda authorizer's context, never from the request.
 */
import { handle } from 'hono/aws-lambda';
import { ListDurableExecutionsByFunctionCommand, StopDurableExecutionCommand } from '@aws-sdk/client-lambda';
import { createHttpApp } from '../http/index.js';
import { ApprovalBodySchema, parseBody, TaskService, type TaskQueueSender } from '../service/index.js';
import { isTerminal, type TaskRecord } from '../task/index.js';
import { accountIdFromRequestContext } from './authorizer.js';
import type { LambdaSender } from './dispatcher.js';
import { resolveApproval } from './durable-journal.js';
import type { S3TaskStore } from './s3-task-store.js';
import type { EventBridgeSchedules } from './schedules.js';
import type { SqsTaskQueue } from './task-service.js';

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
 * const service = new DurableTaskService({ store, queue, lambda, agentFunctionName: process.env.AGENT_FUNCTION_NAME! });
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

/** What `hono/aws-lambda` passes the app as `c.env`. */
interface LambdaBindings {
  event?: { requestContext?: unknown };
}

/**
 * The account id an API Gateway event was authorized for (`requestContext.authorizer.lambda.accountId`).
 *
 * @example
 * createHttpApp({ service, authenticate: (_request, env) => accountIdFromLambdaBindings(env) });
 */
export function accountIdFromLambdaBindings(env: unknown): string | undefined {
  return accountIdFromRequestContext((env as LambdaBindings | undefined)?.event?.requestContext);
}

export interface ApiHandlerDeps extends DurableTaskServiceDeps {
  /** Called with errors that become a 5xx (log them). */
  onError?(error: unknown): void;
}

/**
 * The API Gateway handler (HTTP API payload v2, REST payload v1 too): the HTTP app through `hono/aws-lambda`.
 *
 * @example
 * export const handler = createApiHandler({ store, queue, lambda, agentFunctionName, schedules });
 */
export function createApiHandler(deps: ApiHandlerDeps) {
  const app = createHttpApp({
    service: new DurableTaskService(deps),
    authenticate: (_request, env) => accountIdFromLambdaBindings(env),
    ...(deps.onError ? { onError: deps.onError } : {}),
  });
  return handle(app);
}
