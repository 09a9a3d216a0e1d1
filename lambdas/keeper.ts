/**
 * The MCP connection keeper: on its schedule, extends, health-checks and (once) restarts every live connection
 * sandbox and kills those of deleted connections; invoked with `{ accountId, connectionId }` (after an install
 * or a delete), acts on that one connection at once.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import {
  CredentialEnvelope,
  E2B_CONNECTION_RUNTIME,
  S3ConnectionStore,
  SecretCache,
  instrumentHandler,
  keepConnections,
  keeperTarget,
  loadS3Catalog,
  loadSecrets,
  type KeeperResult,
} from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';
import { E2BSandboxProvider } from '../lib/sandbox/e2b/index.js';

const config = loadConfig(process.env);
const aws = requireAwsSettings(config, ['taskBucket', 'secretArn', 'connectionKeyArn']);
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const secrets = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})));
const s3 = tracer.captureAWSv3Client(new S3Client({}));
const store = new S3ConnectionStore({ s3, bucket: aws.taskBucket });
// The template and plan cap of task sandboxes (DEEP_AGENT_E2B_TEMPLATE, DEEP_AGENT_E2B_MAX_LIFETIME) hold for connection sandboxes too.
const connectionSandboxOptions = {
  ...(config.sandbox.e2bTemplate ? { template: config.sandbox.e2bTemplate } : {}),
  ...(config.sandbox.e2bMaxLifetimeSeconds ? { maxLifetimeSeconds: config.sandbox.e2bMaxLifetimeSeconds } : {}),
};
const envelope = new CredentialEnvelope(tracer.captureAWSv3Client(new KMSClient({})), aws.connectionKeyArn);

export const handler = instrumentHandler({ logger, tracer }, async (event: unknown): Promise<KeeperResult | { checked: 0 }> => {
  const { E2B_API_KEY } = await loadSecrets(aws.secretArn, { cache: secrets });
  if (!E2B_API_KEY) {
    logger.warn('no E2B_API_KEY in the tokens secret: no connection can run');
    return { checked: 0 };
  }
  const { Sandbox } = await import('e2b');
  // No keep-alive timer: this function ends; each round extends the sandboxes by 15 min, three rounds of the default 5-minute schedule.
  const provider = (network: 'per-command' | 'always-on') =>
    new E2BSandboxProvider(E2B_API_KEY, { options: { ...connectionSandboxOptions, network, keepAlive: { intervalSeconds: 0, extendBySeconds: 900 } } });
  const sandboxes = provider('per-command');
  const networkSandboxes = provider('always-on');
  const target = keeperTarget(event);
  const result = await keepConnections(
    { store, envelope, catalog: await loadS3Catalog(s3, aws.taskBucket, config.aws.mcpCatalogKey), sandboxes, networkSandboxes, listing: { api: Sandbox, apiKey: E2B_API_KEY }, runtime: E2B_CONNECTION_RUNTIME },
    target,
  );
  metrics.addMetric('ConnectionsHealthy', MetricUnit.Count, result.healthy.length + result.started.length + result.restarted.length);
  metrics.addMetric('ConnectionsRestarted', MetricUnit.Count, result.restarted.length);
  metrics.addMetric('ConnectionsFailed', MetricUnit.Count, result.failed.length);
  metrics.addMetric('ConnectionSandboxesKilled', MetricUnit.Count, result.killed.length);
  metrics.publishStoredMetrics();
  // Ids only: a record's lastError is already redacted, but nothing of a connection's credentials is ever near here.
  logger.info('connections kept', { scope: target ? 'connection' : 'all', ...(target ?? {}), ...result });
  return result;
});
