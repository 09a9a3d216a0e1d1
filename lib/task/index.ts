/**
 * The runtime-neutral task model: the wire schemas (zod, types inferred), the task store port, an in-memory
 * store, and the task service with the ports each runtime supplies (queue, approvals, schedules, MCP
 * connections, the account credentials task secrets name). Nothing here knows SQLite, S3 or SQS.
 */
export * from './schema.js';
export * from './store.js';
export { encodeTaskCursor, decodeTaskCursor, isAfterPosition, compareListOrder, type TaskPosition } from './list-cursor.js';
export { TaskEventNotifier, type EventTicket } from './event-notifier.js';
export { MemoryTaskStore, observeEvents } from './memory-store.js';
export { TaskService, parseBody, type TaskServiceOptions } from './service.js';
export { checkTaskSecrets, resolveTaskSecrets, type AccountCredentialFields, type AccountCredentials, type ResolvedTaskSecret } from './task-secrets.js';
export {
  ApprovalBodySchema,
  type ScheduleBackend,
  type TaskQueueSender,
  type ApprovalResolver,
  type McpConnectionBackend,
} from './service-ports.js';
