/** The ports the task service is built from. Each runtime (local `serve`, the API Lambda) supplies its own. */
import * as z from 'zod';
import type { ApprovalDecision, ScheduleBody } from './schema.js';

/** Sends a task to the worker queue (SQLite locally, SQS on AWS). Sending twice for one task must be harmless. */
export interface TaskQueueSender {
  send(message: { taskId: string; accountId?: string }): Promise<void> | void;
}

/** Resolves paused tool calls (SQLite approvals locally, durable callbacks on AWS). */
export interface ApprovalResolver {
  /**
   * Resolves approval `approvalId` of task `taskId`: `not_found` when the task has no such pending approval,
   * `conflict` when it was already decided.
   */
  resolve(taskId: string, approvalId: string, decision: ApprovalDecision): Promise<unknown> | unknown;
}

export { ScheduleBodySchema, type ScheduleBody } from './schema.js';

/** Recurring tasks of one account (croner in `serve`, EventBridge Scheduler on AWS). */
export interface ScheduleBackend {
  create(input: ScheduleBody, accountId: string): Promise<object> | object;
  list(accountId: string): Promise<object[]> | object[];
  /** Throws `not_found` when the schedule does not exist or belongs to another account. */
  delete(id: string, accountId: string): Promise<void> | void;
}

/** The MCP connection manager behind `/mcp-server-definitions` and `/mcp-connections`. */
export interface McpConnectionBackend {
  listDefinitions(accountId: string): Promise<unknown[]>;
  install(accountId: string, body: unknown): Promise<unknown>;
  list(accountId: string): Promise<unknown[]>;
  remove(accountId: string, id: string): Promise<void>;
}

/** The body of `POST /tasks/{id}/approvals/{approvalId}`. */
export const ApprovalBodySchema = z.object({ approve: z.boolean(), reason: z.string().max(2_000).optional() }).strict();
