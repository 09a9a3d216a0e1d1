/** The durable agent function: one plan-execute run per task, each model turn and tool call a durable step. */
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { runTask } from '../lib/agent/index.js';
import { assembleAgent } from '../lib/assembly/index.js';
import { S3TaskStore, SecretCache, configWithSecrets, createAgentHandler, instrumentHandler, loadSecrets } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';
import { DeepAgentError } from '../lib/errors/index.js';
import { Redactor } from '../lib/secrets/index.js';

// The environment is read here, once; the secret's values are laid over it per task (configWithSecrets).
const environment = { ...process.env };
const aws = requireAwsSettings(loadConfig(environment), ['taskBucket', 'secretArn']);
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})));
// Learns the secret values once they are read, so nothing written to S3 carries them.
const redactor = new Redactor();
const store = new S3TaskStore({ s3: tracer.captureAWSv3Client(new S3Client({})), bucket: aws.taskBucket, redactor });

export const handler = instrumentHandler(
  { logger, tracer },
  withDurableExecution(
    createAgentHandler({
      store,
      runTask,
      async prepare(record) {
        const values = await loadSecrets(aws.secretArn, { cache: secrets });
        for (const v of Object.values(values)) redactor.add(v);
        const { config } = configWithSecrets(environment, values);
        // This function's own rule: bubblewrap cannot run inside Lambda.
        if (config.sandbox.provider !== 'e2b') {
          throw new DeepAgentError('invalid_input', 'DEEP_AGENT_SANDBOX must be e2b on AWS Lambda: bubblewrap cannot run there.');
        }
        // No MCP builder: nothing of this installation can be mounted into E2B, and nothing it deployed would
        // outlive this Lambda instance. The assembly loads MCP lazily, which keeps the cold start short.
        const agent = await assembleAgent(config, { mcpBuilder: false, redactor });
        return { model: agent.model, sandboxProvider: agent.sandboxProvider, ...agent.taskOptions(record.mcpServers), close: () => agent.close() };
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
