/** The HTTP API function: the one Hono app (lib/http) on the AWS task service, through `hono/aws-lambda`. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { EventBridgeSchedules, S3TaskStore, SqsTaskQueue, createApiHandler, instrumentHandler } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), ['taskBucket', 'taskQueueUrl', 'taskQueueArn', 'agentFunctionName', 'sweeperFunctionName', 'scheduleGroupName', 'schedulerRoleArn', 'schedulerDlqArn']);
const logger = new Logger();
const tracer = new Tracer();
const lambda = tracer.captureAWSv3Client(new LambdaClient({}));

const app = createApiHandler({
  store: new S3TaskStore({ s3: tracer.captureAWSv3Client(new S3Client({})), bucket: aws.taskBucket }),
  queue: new SqsTaskQueue(tracer.captureAWSv3Client(new SQSClient({})), aws.taskQueueUrl),
  lambda,
  agentFunctionName: aws.agentFunctionName,
  // A stopped execution cannot close its sandboxes: the sweeper (which holds the E2B key) kills them now.
  onExecutionStopped: async (taskId) => {
    await lambda.send(
      new InvokeCommand({ FunctionName: aws.sweeperFunctionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify({ taskId })) }),
    );
  },
  schedules: new EventBridgeSchedules(tracer.captureAWSv3Client(new SchedulerClient({})), {
    groupName: aws.scheduleGroupName,
    queueArn: aws.taskQueueArn,
    roleArn: aws.schedulerRoleArn,
    dlqArn: aws.schedulerDlqArn,
  }),
  // Only the error's name and message: a 5xx is ours, and the request (its body, its token) is never logged.
  onError: (e) => logger.error('request failed', { errorName: (e as Error)?.name, errorMessage: (e as Error)?.message }),
});

export const handler = instrumentHandler({ logger, tracer }, (event: Parameters<typeof app>[0], context) => app(event, context as never));
