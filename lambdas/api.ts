/** The HTTP API function: the one Hono app (lib/http) on the AWS task service, through `hono/aws-lambda`. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { EventBridgeSchedules, S3TaskStore, SqsTaskQueue, createApiHandler } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), [
  'taskBucket',
  'taskQueueUrl',
  'taskQueueArn',
  'agentFunctionName',
  'scheduleGroupName',
  'schedulerRoleArn',
  'schedulerDlqArn',
]);
const logger = new Logger();

export const handler = createApiHandler({
  store: new S3TaskStore({ s3: new S3Client({}), bucket: aws.taskBucket }),
  queue: new SqsTaskQueue(new SQSClient({}), aws.taskQueueUrl),
  lambda: new LambdaClient({}),
  agentFunctionName: aws.agentFunctionName,
  schedules: new EventBridgeSchedules(new SchedulerClient({}), {
    groupName: aws.scheduleGroupName,
    queueArn: aws.taskQueueArn,
    roleArn: aws.schedulerRoleArn,
    dlqArn: aws.schedulerDlqArn,
  }),
  // Only the error's name and message: a 5xx is ours, and the request (its body, its token) is never logged.
  onError: (e) => logger.error('request failed', { errorName: (e as Error)?.name, errorMessage: (e as Error)?.message }),
});
