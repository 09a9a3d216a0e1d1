/**
 * The HTTP API function: the one Hono app through `hono/aws-lambda`. Until the app of issue 4 lands, every route
 * answers 501 in the API's JSON error shape; the AWS task service it will call is built here already.
 */
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeSchedules, S3TaskStore, SqsTaskQueue, createAwsTaskService, requireEnv } from '../lib/aws/index.js';

const env = requireEnv(process.env, [
  'TASK_BUCKET',
  'TASK_QUEUE_URL',
  'TASK_QUEUE_ARN',
  'AGENT_FUNCTION_NAME',
  'SCHEDULE_GROUP_NAME',
  'SCHEDULER_ROLE_ARN',
  'SCHEDULER_DLQ_ARN',
]);
export const service = createAwsTaskService({
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
});

const app = new Hono();
app.all('*', (c) => c.json({ error: { code: 'not_implemented', message: 'the HTTP app is not wired into the API function yet' } }, 501));

export const handler = handle(app);
