/** SQS task queue -> durable agent: one start per message, execution name = task id, partial batch failures. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3TaskStore, dispatchBatch, requireEnv, startDurableRun, type SqsBatchResponse, type SqsEvent } from '../lib/aws/index.js';

const env = requireEnv(process.env, ['TASK_BUCKET', 'AGENT_FUNCTION_NAME']);
const logger = new Logger();
const metrics = new Metrics();
const store = new S3TaskStore({ s3: new S3Client({}), bucket: env.TASK_BUCKET });
const startRun = startDurableRun(new LambdaClient({}), env.AGENT_FUNCTION_NAME);

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
