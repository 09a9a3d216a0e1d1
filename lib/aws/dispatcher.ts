/**
 * The dispatcher between the SQS task queue and the durable agent function. For each message it makes sure
 * the task record exists (a plain producer's message gets one, with source "sqs"), then starts the durable
 * execution asynchronously with the execution name = task id, so a duplicate delivery never starts a second
 * run. A message that fails is reported in `batchItemFailures`: SQS redelivers it, and after
 * `maxReceiveCount` receives moves it to the DLQ.
 */
import { createHash } from 'node:crypto';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { hasCode, toErrorInfo } from '../errors/index.js';
import type { TaskStore } from '../task/index.js';
import { isTerminal, newTaskRecord, type TaskRecord } from '../task/index.js';
import type { AgentEvent, SqsBatchResponse, SqsEvent, SqsRecord } from './lambda-events.js';
import { parseTaskMessage } from './task-message.js';

/** The part of `LambdaClient` the dispatcher uses; tests inject one that runs the agent locally. */
export type LambdaSender = Pick<LambdaClient, 'send'>;

export type StartOutcome = 'started' | 'already_started';
/** A start's outcome, with the ARN of the durable execution when Lambda returned one. */
export interface StartedRun {
  outcome: StartOutcome;
  executionArn?: string;
}
export type StartDurableRun = (taskId: string) => Promise<StartedRun>;

/** What the dispatcher reports per message, for logs and metrics. */
export interface DispatchOutcome {
  messageId: string;
  taskId?: string;
  /** `throttled`: Lambda refused the start for now; the message goes back to the queue and is retried. */
  outcome: StartOutcome | 'skipped_terminal' | 'throttled' | 'failed';
  error?: { code: string; message: string };
}

export interface DispatchDeps {
  store: TaskStore;
  startRun: StartDurableRun;
  /** Called once per message with what happened (log it; never contains the prompt). */
  onOutcome?(outcome: DispatchOutcome): void;
}

/**
 * Starts (or finds) the durable execution of a task: Lambda `Invoke` with `InvocationType: "Event"` and
 * `DurableExecutionName` = task id. The payload is only `{ taskId }`, so a second start has the same name and
 * payload and Lambda returns the existing execution; `DurableExecutionAlreadyStartedException` counts too.
 *
 * @example
 * const startRun = startDurableRun(new LambdaClient({}), config.aws.agentFunctionName!);
 * await startRun(taskId); // 'started' | 'already_started'
 */
export function startDurableRun(lambda: LambdaSender, functionName: string): StartDurableRun {
  return async (taskId) => {
    const payload: AgentEvent = { taskId };
    try {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          DurableExecutionName: taskId,
          Payload: new TextEncoder().encode(JSON.stringify(payload)),
        }),
      );
      return { outcome: 'started', ...(out?.DurableExecutionArn ? { executionArn: out.DurableExecutionArn } : {}) };
    } catch (e) {
      if ((e as { name?: string }).name === 'DurableExecutionAlreadyStartedException') return { outcome: 'already_started' };
      throw e;
    }
  };
}

/**
 * True when Lambda refused a start because of concurrency or request-rate limits (HTTP 429). Such a start is
 * not an error of the message: it goes back to the queue and is tried again after its visibility timeout.
 *
 * @example
 * isThrottle(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' })); // true
 */
export function isThrottle(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'TooManyRequestsException' || err?.name === 'ThrottlingException' || err?.$metadata?.httpStatusCode === 429;
}

/**
 * A task id derived from the SQS message id: redeliveries of one producer message keep the same id, so they
 * land on the same record and the same durable execution.
 *
 * @example
 * taskIdForMessage('059f36b4-87a3-44ab-83d2-661975830a7d'); // 'sqs-3b1f…' (stable)
 */
export function taskIdForMessage(messageId: string): string {
  return `sqs-${createHash('sha256').update(messageId).digest('hex').slice(0, 32)}`;
}

async function ensureRecord(record: SqsRecord, store: TaskStore): Promise<TaskRecord> {
  const message = parseTaskMessage(record.body);
  const id = message.taskId ?? taskIdForMessage(record.messageId);
  const existing = await store.get(id);
  if (existing) return existing;
  const fresh = newTaskRecord({
    id,
    prompt: message.prompt,
    source: message.source ?? 'sqs',
    ...(message.accountId ? { accountId: message.accountId } : {}),
    ...(message.idempotencyKey ? { idempotencyKey: message.idempotencyKey } : {}),
    ...(message.budget ? { budget: message.budget } : {}),
    ...(message.mcpServers ? { mcpServers: message.mcpServers } : {}),
    ...(message.network ? { network: message.network } : {}),
    // Names only; a producer's message is not checked against the account here: a credential the account does
    // not hold fails the task when it starts.
    ...(message.secrets ? { secrets: message.secrets } : {}),
  });
  try {
    const { record: stored, created } = await store.create(fresh);
    if (created) await store.appendEvent(stored.id, 'task.queued', { source: stored.source });
    return stored;
  } catch (e) {
    // A concurrent delivery of the same message created it first.
    if (hasCode(e, 'conflict')) {
      const again = await store.get(id);
      if (again) return again;
    }
    throw e;
  }
}

/**
 * Handles one SQS batch: every message independently; failures are returned for partial batch retry.
 *
 * @example
 * export const handler = (event: SqsEvent) => dispatchBatch(event, { store, startRun });
 */
export async function dispatchBatch(event: SqsEvent, deps: DispatchDeps): Promise<SqsBatchResponse> {
  const outcomes = await Promise.all(
    event.Records.map(async (record): Promise<DispatchOutcome> => {
      let taskId: string | undefined;
      try {
        const task = await ensureRecord(record, deps.store);
        taskId = task.id;
        if (isTerminal(task.status)) return { messageId: record.messageId, taskId, outcome: 'skipped_terminal' };
        const run = await deps.startRun(task.id);
        // Kept on the record so cancel stops exactly this execution (by ARN, not by a name lookup).
        if (run.executionArn && task.durableExecutionArn !== run.executionArn) {
          await deps.store.update(task.id, { durableExecutionArn: run.executionArn });
        }
        return { messageId: record.messageId, taskId, outcome: run.outcome };
      } catch (e) {
        const error = toErrorInfo(e);
        return { messageId: record.messageId, ...(taskId ? { taskId } : {}), outcome: isThrottle(e) ? 'throttled' : 'failed', error };
      }
    }),
  );
  for (const o of outcomes) deps.onOutcome?.(o);
  const retry = outcomes.filter((o) => o.outcome === 'failed' || o.outcome === 'throttled');
  return { batchItemFailures: retry.map((o) => ({ itemIdentifier: o.messageId })) };
}
