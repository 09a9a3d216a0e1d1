/**
 * The SQS task message (the shared AWS contract): what any producer may put on the queue. The API creates the
 * record first and sends `{ taskId, accountId, source: "http", prompt }`; a plain producer sends the
 * `POST /tasks` body and the dispatcher creates the record.
 */
import * as z from 'zod';
import { DeepAgentError } from '../errors/index.js';
import { SubmitTaskSchema, TaskSourceSchema } from '../task/index.js';

export const TaskMessageSchema = SubmitTaskSchema.extend({
  taskId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'taskId: letters, digits, _ and -, at most 64').optional(),
  accountId: z.string().min(1).max(128).optional(),
  source: TaskSourceSchema.exclude(['cli']).optional(),
}).strict();
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

/**
 * Parses and validates a message body; throws `invalid_input` with one line naming the problem.
 *
 * @example
 * const message = parseTaskMessage(record.body); // { prompt, taskId?, ... }
 */
export function parseTaskMessage(body: string): TaskMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new DeepAgentError('invalid_input', 'task message is not JSON');
  }
  const parsed = TaskMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DeepAgentError('invalid_input', `task message: ${issue.path.join('.') || '(body)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Serialises a message for SQS (and for EventBridge Scheduler's target input).
 *
 * @example
 * await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: formatTaskMessage({ taskId, prompt, source: 'http' }) }));
 */
export function formatTaskMessage(message: TaskMessage): string {
  return JSON.stringify(TaskMessageSchema.parse(message));
}
