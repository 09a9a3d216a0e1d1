/** The HTTP API function: the one Hono app (lib/http) on the AWS task service, through `hono/aws-lambda`. */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import {
  AwsMcpConnections,
  CredentialEnvelope,
  EventBridgeSchedules,
  S3ConnectionStore,
  S3TaskStore,
  SqsTaskQueue,
  awsOAuthLogins,
  createApiHandler,
  instrumentHandler,
  loadS3Catalog,
} from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const config = loadConfig(process.env);
const aws = requireAwsSettings(config, [
  'taskBucket',
  'taskQueueUrl',
  'taskQueueArn',
  'agentFunctionName',
  'sweeperFunctionName',
  'scheduleGroupName',
  'schedulerRoleArn',
  'schedulerDlqArn',
  'connectionKeyArn',
  'keeperFunctionName',
]);
const logger = new Logger();
const tracer = new Tracer();
const lambda = tracer.captureAWSv3Client(new LambdaClient({}));

const s3 = tracer.captureAWSv3Client(new S3Client({}));
// The operator's catalog is read at most once a minute per instance, so an upload counts without a redeploy.
let catalog: { at: number; value: ReturnType<typeof loadS3Catalog> } | undefined;
// This function may GenerateDataKey, and Decrypt only pending OAuth logins (a KMS condition on their context):
// it seals credentials and tokens and can never read them back.
const envelope = new CredentialEnvelope(tracer.captureAWSv3Client(new KMSClient({})), aws.connectionKeyArn);
const mcpConnections = new AwsMcpConnections({
  store: new S3ConnectionStore({ s3, bucket: aws.taskBucket }),
  envelope,
  catalog: () => {
    if (!catalog || Date.now() - catalog.at > 60_000) {
      catalog = { at: Date.now(), value: loadS3Catalog(s3, aws.taskBucket, config.aws.mcpCatalogKey) };
      catalog.value.catch(() => (catalog = undefined));
    }
    return catalog.value;
  },
  // The keeper (which holds the E2B key and may decrypt) starts an installed connection, or kills a deleted one's sandbox, now.
  notifyKeeper: async (target) => {
    await lambda.send(
      new InvokeCommand({ FunctionName: aws.keeperFunctionName, InvocationType: 'Event', Payload: new TextEncoder().encode(JSON.stringify(target)) }),
    );
  },
});

const app = createApiHandler({
  store: new S3TaskStore({ s3, bucket: aws.taskBucket }),
  mcpConnections,
  // A task's `secrets` are checked against the account's connections by name (this function cannot decrypt them).
  credentials: mcpConnections,
  mcpOAuth: awsOAuthLogins({ s3, bucket: aws.taskBucket, envelope, connections: mcpConnections }),
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
