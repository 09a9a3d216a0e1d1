/**
 * The sandbox sweeper: on its schedule, kills E2B sandboxes whose task is finished or unknown; invoked with
 * `{ taskId }` (after a cancel stopped that task's execution), kills that task's sandboxes at once.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { S3TaskStore, SecretCache, instrumentHandler, loadSecrets, sweepSandboxes, sweepTarget, type SweepResult } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), ['taskBucket', 'secretArn']);
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})));
const store = new S3TaskStore({ s3: tracer.captureAWSv3Client(new S3Client({})), bucket: aws.taskBucket });

export const handler = instrumentHandler({ logger, tracer }, async (event: unknown): Promise<SweepResult> => {
  const { E2B_API_KEY } = await loadSecrets(aws.secretArn, { cache: secrets });
  if (!E2B_API_KEY) {
    logger.warn('no E2B_API_KEY in the tokens secret: nothing to sweep');
    return { examined: 0, killed: [] };
  }
  const { Sandbox } = await import('e2b');
  const target = sweepTarget(event);
  const result = await sweepSandboxes({ sandboxes: Sandbox, apiKey: E2B_API_KEY, store }, target);
  for (const reason of ['terminal', 'unknown'] as const) {
    metrics.addMetric(reason === 'terminal' ? 'SandboxesKilledTaskFinished' : 'SandboxesKilledTaskUnknown', MetricUnit.Count, result.killed.filter((k) => k.reason === reason).length);
  }
  metrics.addMetric('SandboxesKilled', MetricUnit.Count, result.killed.length);
  metrics.publishStoredMetrics();
  logger.info('sandboxes swept', { scope: target ? 'task' : 'all', ...(target ?? {}), examined: result.examined, killed: result.killed });
  return result;
});
