/** The Lambda environment, read once at module scope and validated. */
import { MissingConfigError } from '../errors/index.js';
import type { Env } from '../config/index.js';

const MEANING: Record<string, string> = {
  TASK_BUCKET: 'task records and events in S3',
  TASK_QUEUE_URL: 'sending tasks to the queue',
  AGENT_FUNCTION_NAME: 'starting durable agent runs',
  SWEEPER_FUNCTION_NAME: 'killing the sandboxes of a cancelled task',
  SECRET_ARN: 'reading the Anthropic/E2B/GitHub/Notion tokens',
  API_TOKENS_SECRET_ARN: 'authorizing API callers',
  SCHEDULE_GROUP_NAME: 'EventBridge schedules',
  SCHEDULER_ROLE_ARN: 'EventBridge schedules',
  SCHEDULER_DLQ_ARN: 'EventBridge schedules',
  TASK_QUEUE_ARN: 'EventBridge schedules',
};

/**
 * Picks required variables; throws a one-line MissingConfigError naming the first one absent.
 *
 * @example
 * const env = requireEnv(process.env, ['TASK_BUCKET', 'AGENT_FUNCTION_NAME']);
 */
export function requireEnv<K extends string>(env: Env, names: readonly K[]): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const n of names) {
    const v = env[n]?.trim();
    if (!v) throw new MissingConfigError(n, MEANING[n] ?? 'this Lambda function');
    out[n] = v;
  }
  return out;
}
