/** The durable agent function: one plan-execute run per task, each model turn and tool call a durable step. */
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { runTask } from '../lib/agent/index.js';
import {
  CredentialEnvelope,
  E2B_CONNECTION_RUNTIME,
  S3ConnectionStore,
  S3TaskStore,
  SecretCache,
  createAgentHandler,
  instrumentHandler,
  loadS3Catalog,
  loadSecrets,
  prepareDeployedRun,
} from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';
import { E2BSandboxProvider } from '../lib/sandbox/e2b/index.js';
import { Redactor } from '../lib/secrets/index.js';

// The environment is read here, once; the secret's values are laid over it per task (configWithSecrets).
const environment = { ...process.env };
const config = loadConfig(environment);
const aws = requireAwsSettings(config, ['taskBucket', 'secretArn', 'connectionKeyArn']);
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})));
// Learns the secret values (and each attached connection's credentials) once they are read, so nothing
// written to S3 carries them.
const redactor = new Redactor();
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const store = new S3TaskStore({ s3, bucket: aws.taskBucket, redactor });
/** Connection sandboxes take the task sandboxes' template and lifetime cap; their keep-alive timer stays off (each call extends them). */
const connectionProvider = (c: typeof config, network: 'per-command' | 'always-on') =>
  new E2BSandboxProvider(c.sandbox.e2bApiKey!, {
    redactor,
    options: {
      ...(c.sandbox.e2bTemplate ? { template: c.sandbox.e2bTemplate } : {}),
      ...(c.sandbox.e2bMaxLifetimeSeconds ? { maxLifetimeSeconds: c.sandbox.e2bMaxLifetimeSeconds } : {}),
      keepAlive: { intervalSeconds: 0 },
      network,
    },
  });
const connections = {
  store: new S3ConnectionStore({ s3, bucket: aws.taskBucket }),
  // This function may Decrypt: it starts the account's connection servers for the task.
  envelope: new CredentialEnvelope(tracer.captureAWSv3Client(new KMSClient({})), aws.connectionKeyArn),
  catalog: () => loadS3Catalog(s3, aws.taskBucket, config.aws.mcpCatalogKey),
  sandboxes: (c: typeof config) => connectionProvider(c, 'per-command'),
  networkSandboxes: (c: typeof config) => connectionProvider(c, 'always-on'),
  runtime: E2B_CONNECTION_RUNTIME,
};

export const handler = instrumentHandler(
  { logger, tracer },
  withDurableExecution(
    createAgentHandler({
      store,
      runTask,
      async prepare(record) {
        return prepareDeployedRun(record, { environment, secrets: await loadSecrets(aws.secretArn, { cache: secrets }), redactor, connections });
      },
      onFinished(record) {
        logger.info('task finished', { taskId: record.id, status: record.status, steps: record.steps, errorCode: record.error?.code });
        metrics.addMetric(record.status === 'succeeded' ? 'TasksSucceeded' : record.status === 'cancelled' ? 'TasksCancelled' : 'TasksFailed', MetricUnit.Count, 1);
        metrics.addMetric('TaskCostUsd', MetricUnit.NoUnit, record.usage.costUsd);
        metrics.publishStoredMetrics();
      },
    }),
  ),
);
