/** SQS task queue -> durable agent: one start per message, execution name = task id, partial batch failures. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3TaskStore, dispatchBatch, startDurableRun, type SqsBatchResponse, type SqsEvent } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), ['taskBucket', 'agentFunctionName']);
const logger = new Logger();
const metrics = new Metrics();
const store = new S3TaskStore({ s3: new S3Client({}), bucket: aws.taskBucket });
const startRun = startDurableRun(new LambdaClient({}), aws.agentFunctionName);

export const handler = async (event: SqsEvent): Promise<SqsBatchResponse> => {
  const answer = await dispatchBatch(event, {
    store,
    startRun,
    onOutcome: (o) => (o.outcome === 'failed' ? logger.warn('message not dispatched', { ...o }) : logger.info('message dispatched', { ...o })),
  });
  metrics.addMetric('TasksDispatched', MetricUnit.Count, event.Records.length - answer.batchItemFailures.length);
  metrics.addMetric('DispatchFailures', MetricUnit.Count, answer.batchItemFailures.length);
  metrics.publishStoredMetrics();
  return answer;
};
