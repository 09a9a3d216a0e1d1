/** The task service (submit / get / events / cancel / approve / schedules) and the ports it is built from. */
export { TaskService, parseBody, type TaskServiceOptions } from './task-service.js';
export {
  ScheduleBodySchema,
  ApprovalBodySchema,
  type ScheduleBody,
  type ScheduleBackend,
  type TaskQueueSender,
  type ApprovalResolver,
  type McpConnectionBackend,
} from './types.js';
