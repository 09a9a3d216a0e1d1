/** SQS task queue -> durable agent: one start per message, execution name = task id, partial batch failures. */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { S3TaskStore, dispatchBatch, instrumentHandler, startDurableRun, type SqsEvent } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), ['taskBucket', 'agentFunctionName']);
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const store = new S3TaskStore({ s3: tracer.captureAWSv3Client(new S3Client({})), bucket: aws.taskBucket });
const startRun = startDurableRun(tracer.captureAWSv3Client(new LambdaClient({})), aws.agentFunctionName);

export const handler = instrumentHandler({ logger, tracer }, async (event: SqsEvent) => {
  const counts = { failed: 0, throttled: 0 };
  const answer = await dispatchBatch(event, {
    store,
    startRun,
    onOutcome: (o) => {
      if (o.outcome === 'failed' || o.outcome === 'throttled') counts[o.outcome]++;
      if (o.outcome === 'failed' || o.outcome === 'throttled') logger.warn('message not dispatched', { ...o });
      else logger.info('message dispatched', { ...o });
    },
  });
  metrics.addMetric('TasksDispatched', MetricUnit.Count, event.Records.length - answer.batchItemFailures.length);
  metrics.addMetric('DispatchFailures', MetricUnit.Count, counts.failed);
  // Retried through the queue (the agent's reserved concurrency is full); not lost.
  metrics.addMetric('StartsThrottled', MetricUnit.Count, counts.throttled);
  metrics.publishStoredMetrics();
  return answer;
});
