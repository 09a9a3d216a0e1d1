/** The HTTP API function: the one Hono app (lib/http) on the AWS task service, through `hono/aws-lambda`. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeSchedules, S3TaskStore, SqsTaskQueue, createApiHandler, requireEnv } from '../lib/aws/index.js';

const env = requireEnv(process.env, [
  'TASK_BUCKET',
  'TASK_QUEUE_URL',
  'TASK_QUEUE_ARN',
  'AGENT_FUNCTION_NAME',
  'SCHEDULE_GROUP_NAME',
  'SCHEDULER_ROLE_ARN',
  'SCHEDULER_DLQ_ARN',
]);
const logger = new Logger();

export const handler = createApiHandler({
  store: new S3TaskStore({ s3: new S3Client({}), bucket: env.TASK_BUCKET }),
  queue: new SqsTaskQueue(new SQSClient({}), env.TASK_QUEUE_URL),
  lambda: new LambdaClient({}),
  agentFunctionName: env.AGENT_FUNCTION_NAME,
  schedules: new EventBridgeSchedules(new SchedulerClient({}), {
    groupName: env.SCHEDULE_GROUP_NAME,
    queueArn: env.TASK_QUEUE_ARN,
    roleArn: env.SCHEDULER_ROLE_ARN,
    dlqArn: env.SCHEDULER_DLQ_ARN,
  }),
  // Only the error's name and message: a 5xx is ours, and the request (its body, its token) is never logged.
  onError: (e) => logger.error('request failed', { errorName: (e as Error)?.name, errorMessage: (e as Error)?.message }),
});
