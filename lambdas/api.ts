/** The HTTP API function: the one Hono app (lib/http) on the AWS task service, through `hono/aws-lambda`. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { EventBridgeSchedules, S3TaskStore, SqsTaskQueue, createApiHandler, instrumentHandler, requireEnv } from '../lib/aws/index.js';

const env = requireEnv(process.env, [
  'TASK_BUCKET',
  'TASK_QUEUE_URL',
  'TASK_QUEUE_ARN',
  'AGENT_FUNCTION_NAME',
  'SWEEPER_FUNCTION_NAME',
  'SCHEDULE_GROUP_NAME',
  'SCHEDULER_ROLE_ARN',
  'SCHEDULER_DLQ_ARN',
]);
const logger = new Logger();
const tracer = new Tracer();
const lambda = tracer.captureAWSv3Client(new LambdaClient({}));

const app = createApiHandler({
  store: new S3TaskStore({ s3: tracer.captureAWSv3Client(new S3Client({})), bucket: env.TASK_BUCKET }),
  queue: new SqsTaskQueue(tracer.captureAWSv3Client(new SQSClient({})), env.TASK_QUEUE_URL),
  lambda,
  agentFunctionName: env.AGENT_FUNCTION_NAME,
  // A stopped execution cannot close its sandboxes: the sweeper (which holds the E2B key) kills them now.
  onExecutionStopped: async (taskId) => {
    await lambda.send(
      new InvokeCommand({ FunctionName: env.SWEEPER_FUNCTION_NAME, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ taskId })) }),
    );
  },
  schedules: new EventBridgeSchedules(tracer.captureAWSv3Client(new SchedulerClient({})), {
    groupName: env.SCHEDULE_GROUP_NAME,
    queueArn: env.TASK_QUEUE_ARN,
    roleArn: env.SCHEDULER_ROLE_ARN,
    dlqArn: env.SCHEDULER_DLQ_ARN,
  }),
  // Only the error's name and message: a 5xx is ours, and the request (its body, its token) is never logged.
  onError: (e) => logger.error('request failed', { errorName: (e as Error)?.name, errorMessage: (e as Error)?.message }),
});

export const handler = instrumentHandler({ logger, tracer }, (event: Parameters<typeof app>[0], context) => app(event, context as never));
