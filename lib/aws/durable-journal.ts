/**
 * The step journal on Lambda durable functions: each model turn and tool call is a durable step, so a replay
 * returns checkpointed results instead of running them again; an approval is a `waitForCallback` whose id is
 * stored on the approval, so the approvals route can complete it with `SendDurableExecutionCallbackSuccess`.
 *
 * Step results are kept small (256 KB per step, 100 MB per execution): a result whose JSON is larger than
 * `maxInlineBytes` is written to S3 under `tasks/<id>/transcript/` and only its key is checkpointed.
 *
 * The SDK numbers operations in the order they start, on one counter per context. A `child` is a
 * `runInChildContext` with a counter of its own, so the concurrent tool calls of a turn (sub-agents, approvals)
 * keep their operation ids whatever order they finish in, and a replay finds each operation where it was.
 */
import { randomUUID } from 'node:crypto';
import { CallbackError, CallbackTimeoutError, type DurableContext } from '@aws/durable-execution-sdk-js';
import { SendDurableExecutionCallbackSuccessCommand } from '@aws-sdk/client-lambda';
import type { ApprovalDecision, ApprovalRequest, StepJournal } from '../agent/index.js';
import { DeepAgentError, isRetryable, toErrorInfo, type SerializedError } from '../errors/index.js';
import type { LambdaSender } from './dispatcher.js';

/** Where large step results go (S3TaskStore fits). */
export interface TranscriptStore {
  putTranscript(taskId: string, name: string, json: string): Promise<string>;
  getObjectText(key: string): Promise<string>;
}

/** Where an approval's callback id is kept until a person decides. */
export interface ApprovalCallbackStore {
  putDocument(key: string, value: unknown): Promise<void>;
  getDocument<T = unknown>(key: string): Promise<T | undefined>;
}

export interface PendingApproval extends ApprovalRequest {
  callbackId: string;
  requestedAt: string;
}

export const approvalKey = (taskId: string, approvalId: string) => `tasks/${taskId}/approvals/${approvalId}.json`;

export interface DurableJournalOptions {
  taskId: string;
  transcripts?: TranscriptStore;
  approvals?: ApprovalCallbackStore;
  /** @default 200_000 (bytes of JSON; the durable step limit is 256 KB) */
  maxInlineBytes?: number;
  /** How long an approval may wait. @default 24 hours */
  approvalTimeoutSeconds?: number;
  /**
   * Operations one execution's history may hold; the loop stops a task before it needs more.
   * @default DURABLE_OPERATION_QUOTA
   */
  operationQuota?: number;
}

/**
 * Operations in one durable execution's history. AWS's own figure is not settled in the notes this project
 * keeps: DESIGN.md says 3,000, the Rust durable SDK's LIMITS documents 25,000 operations of history. The lower
 * one is the default, so a task never reaches an unrecordable state under either.
 */
export const DURABLE_OPERATION_QUOTA = 3_000;

/** The durable step limit; a larger result could not be checkpointed. */
const CHECKPOINT_LIMIT_BYTES = 256 * 1024;

/** What a step checkpoints: the value, a reference to S3, or the error it threw (codes survive replay). */
type Checkpoint = { value?: unknown } | { ref: string } | { error: SerializedError };

function serialise(e: unknown): SerializedError {
  if (e instanceof DeepAgentError) return e.toObject();
  const info = toErrorInfo(e);
  return { errorType: 'Error', code: info.code, message: info.message, retryable: isRetryable(e) };
}

/**
 * `StepJournal` over a `DurableContext`.
 *
 * @example
 * export const handler = withDurableExecution(async (event, context) =>
 *   runTask({ taskId: event.taskId, journal: new DurableJournal(context, { taskId: event.taskId, transcripts: store }), ... }));
 */
export class DurableJournal implements StepJournal {
  private readonly maxInlineBytes: number;
  readonly operationQuota: number;

  constructor(
    protected readonly context: DurableContext,
    private readonly options: DurableJournalOptions,
  ) {
    this.maxInlineBytes = options.maxInlineBytes ?? 200_000;
    this.operationQuota = options.operationQuota ?? DURABLE_OPERATION_QUOTA;
  }

  /** This journal's kind (a subclass stays itself) over another context of the same execution. */
  protected onContext(context: DurableContext): DurableJournal {
    const Kind = this.constructor as new (context: DurableContext, options: DurableJournalOptions) => DurableJournal;
    return new Kind(context, this.options);
  }

  /**
   * A `runInChildContext`: `fn` gets a journal on the child context. A project error thrown in the child is
   * checkpointed with the child's result (code and `retryable` intact), so a replay sees the same outcome.
   */
  async child<T>(name: string, fn: (journal: StepJournal) => Promise<T>): Promise<T> {
    const outcome = await this.context.runInChildContext<{ value?: T } | { error: SerializedError }>(name, async (childContext) => {
      try {
        return { value: await fn(this.onContext(childContext)) };
      } catch (e) {
        if (e instanceof DeepAgentError) return { error: e.toObject() };
        throw e; // the SDK's own errors (and bugs) fail the child as they would fail the execution
      }
    });
    if ('error' in outcome) throw DeepAgentError.fromObject(outcome.error);
    return outcome.value as T;
  }

  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const checkpoint = await this.context.step<Checkpoint>(
      name,
      async () => {
        try {
          const value = await fn();
          const json = value === undefined ? undefined : JSON.stringify(value);
          if (json !== undefined && Buffer.byteLength(json) > this.maxInlineBytes && this.options.transcripts) {
            // The key is checkpointed, so it need not be derivable: a suffix keeps like-named steps apart.
            return { ref: await this.options.transcripts.putTranscript(this.options.taskId, `${name}-${randomUUID().slice(0, 8)}`, json) };
          }
          if (json !== undefined && Buffer.byteLength(json) > CHECKPOINT_LIMIT_BYTES) {
            // Without a transcript store the value cannot be kept: record why, rather than fail the execution.
            return { error: DeepAgentError.nonRetryable('internal', `the result of step ${name} (${Buffer.byteLength(json)} bytes) exceeds the 256 KB checkpoint limit`).toObject() };
          }
          return { value };
        } catch (e) {
          // Recorded, not retried here: the loop decides what a failed step means, and a replay must see the
          // same outcome. Retries of transient failures happen inside the model client and the tools.
          return { error: serialise(e) };
        }
      },
      { retryStrategy: () => ({ shouldRetry: false }) },
    );
    if ('error' in checkpoint) throw DeepAgentError.fromObject(checkpoint.error);
    if ('ref' in checkpoint) return JSON.parse(await this.options.transcripts!.getObjectText(checkpoint.ref)) as T;
    return checkpoint.value as T;
  }

  async waitForApproval(name: string, request: ApprovalRequest): Promise<ApprovalDecision> {
    const timeoutSeconds = this.options.approvalTimeoutSeconds ?? 24 * 3600;
    let raw: string | undefined;
    try {
      raw = await this.context.waitForCallback<string | undefined>(
        name,
        async (callbackId) => {
          const pending: PendingApproval = { ...request, callbackId, requestedAt: new Date().toISOString() };
          await this.options.approvals?.putDocument(approvalKey(request.taskId, request.approvalId), pending);
        },
        {
          timeout: { seconds: timeoutSeconds },
          serdes: { deserialize: async (data) => data },
        },
      );
    } catch (e) {
      // The callback's outcome is checkpointed, so a replay throws the same project error here.
      if (e instanceof CallbackTimeoutError) {
        throw new DeepAgentError('budget_exceeded', `no decision on approval ${request.approvalId} within ${timeoutSeconds} s`, { approvalId: request.approvalId });
      }
      if (e instanceof CallbackError) throw new DeepAgentError('internal', `approval ${request.approvalId} failed: ${e.message}`, { approvalId: request.approvalId }, { cause: e });
      throw e;
    }
    return parseDecision(raw);
  }
}

/** Reads a callback result: `{ approve, reason? }` as JSON; anything else is a denial. */
export function parseDecision(raw: string | undefined): ApprovalDecision {
  try {
    const v = JSON.parse(raw ?? '') as { approve?: unknown; reason?: unknown };
    if (typeof v?.approve === 'boolean') return { approve: v.approve, ...(typeof v.reason === 'string' ? { reason: v.reason } : {}) };
  } catch {
    // fall through
  }
  return { approve: false, reason: 'unreadable approval decision' };
}

/**
 * Completes a paused approval: finds its callback id and sends the decision to the durable execution.
 * Throws `not_found` when the task has no such pending approval.
 *
 * @example
 * await resolveApproval({ lambda, approvals: store, taskId, approvalId, decision: { approve: true } });
 */
export async function resolveApproval(args: {
  lambda: LambdaSender;
  approvals: ApprovalCallbackStore;
  taskId: string;
  approvalId: string;
  decision: ApprovalDecision;
}): Promise<PendingApproval> {
  const pending = await args.approvals.getDocument<PendingApproval>(approvalKey(args.taskId, args.approvalId));
  if (!pending) throw new DeepAgentError('not_found', `task ${args.taskId} has no pending approval ${args.approvalId}`);
  await args.lambda.send(
    new SendDurableExecutionCallbackSuccessCommand({
      CallbackId: pending.callbackId,
      Result: new TextEncoder().encode(JSON.stringify(args.decision)),
    }),
  );
  return pending;
}
