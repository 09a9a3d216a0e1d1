/** The durable agent function: one plan-execute run per task, each model turn and tool call a durable step. */
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { runTask } from '../lib/agent/index.js';
import { S3TaskStore, SecretCache, configWithSecrets, createAgentHandler, loadSecrets, requireEnv } from '../lib/aws/index.js';
import { requireModelCredentials, requireSandboxCredentials } from '../lib/config/index.js';
import { DeepAgentError } from '../lib/errors/index.js';
import { createModelClient } from '../lib/model/index.js';
import { createE2BSandboxProvider } from '../lib/sandbox/e2b/index.js';
import { Redactor } from '../lib/secrets/index.js';

const env = requireEnv(process.env, ['TASK_BUCKET', 'SECRET_ARN']);
const logger = new Logger();
const metrics = new Metrics();
const secrets = new SecretCache(new SecretsManagerClient({}));
// Learns the secret values once they are read, so nothing written to S3 carries them.
const redactor = new Redactor();
const store = new S3TaskStore({ s3: new S3Client({}), bucket: env.TASK_BUCKET, redactor });

export const handler = withDurableExecution(
  createAgentHandler({
    store,
    runTask,
    async prepare(record) {
      const values = await loadSecrets(env.SECRET_ARN, { cache: secrets });
      for (const v of Object.values(values)) redactor.add(v);
      const { config } = configWithSecrets(process.env, values);
      if (config.sandbox !== 'e2b') {
        throw new DeepAgentError('invalid_input', 'DEEP_AGENT_SANDBOX must be e2b on AWS Lambda: bubblewrap cannot run there.');
      }
      requireModelCredentials(config);
      requireSandboxCredentials(config);
      const sandboxProvider = createE2BSandboxProvider(config);
      // The presets only: nothing of this installation can be mounted into E2B for the builder, and nothing it
      // deployed would outlive this Lambda instance. Loaded lazily to keep the cold start short.
      const { attachMcp } = await import('../lib/mcp/index.js');
      const mcp = await attachMcp(config, { sandboxProvider, redactor });
      return { model: await createModelClient(config), sandboxProvider, ...mcp.taskOptions(record.mcpServers), close: () => mcp.close() };
    },
    onFinished(record) {
      logger.info('task finished', { taskId: record.id, status: record.status, steps: record.steps, errorCode: record.error?.code });
      metrics.addMetric(record.status === 'succeeded' ? 'TasksSucceeded' : record.status === 'cancelled' ? 'TasksCancelled' : 'TasksFailed', MetricUnit.Count, 1);
      metrics.addMetric('TaskCostUsd', MetricUnit.NoUnit, record.usage.costUsd);
      metrics.publishStoredMetrics();
    },
  }),
);
