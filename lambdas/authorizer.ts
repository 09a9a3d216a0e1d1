/** API Gateway Lambda REQUEST authorizer: bearer token -> account id (tokens secret, cached), deny by default. */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { SecretCache, authorize, instrumentHandler, type AuthorizerEvent } from '../lib/aws/index.js';
import { loadConfig, requireAwsSettings } from '../lib/config/index.js';

const aws = requireAwsSettings(loadConfig(process.env), ['apiTokensSecretArn']);
const logger = new Logger();
const tracer = new Tracer();
const cache = new SecretCache(tracer.captureAWSv3Client(new SecretsManagerClient({})), { ttlMs: 60_000 });

export const handler = instrumentHandler({ logger, tracer }, (event: AuthorizerEvent) =>
  // Only the error's name is logged: never the token, the header or the secret.
  authorize(event, { cache, secretArn: aws.apiTokensSecretArn, onError: (e) => logger.error('tokens secret unreadable', { errorName: (e as Error)?.name }) }),
);
