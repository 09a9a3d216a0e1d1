import { SecretValue } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Keys of the runtime token secret (`SECRET_ARN`). */
export const TOKEN_SECRET_KEYS = ['ANTHROPIC_API_KEY', 'E2B_API_KEY', 'GITHUB_TOKEN', 'NOTION_TOKEN'] as const;

/** Placeholder the operator replaces after deploy (`aws secretsmanager put-secret-value`). */
export const SECRET_PLACEHOLDER = 'replace-me';

/**
 * The two Secrets Manager secrets: third-party tokens for the agent, and the API's bearer-token table for
 * the authorizer. Both start with placeholders, never real values; functions get ARNs, never values.
 *
 * @example
 * const secrets = new AgentSecrets(this, 'Secrets');
 * secrets.tokens.grantRead(agentFunction);
 */
export class AgentSecrets extends Construct {
  /** JSON `{ ANTHROPIC_API_KEY, E2B_API_KEY, GITHUB_TOKEN, NOTION_TOKEN }`. */
  readonly tokens: secretsmanager.Secret;
  /** JSON `{ "tokens": { "<sha256 hex of token>": "<accountId>" } }`. */
  readonly apiTokens: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.tokens = new secretsmanager.Secret(this, 'Tokens', {
      description: 'deep-agent: Anthropic, E2B, GitHub and Notion tokens (JSON). Replace the placeholders after deploy.',
      secretObjectValue: Object.fromEntries(TOKEN_SECRET_KEYS.map((k) => [k, SecretValue.unsafePlainText(SECRET_PLACEHOLDER)])),
    });
    this.apiTokens = new secretsmanager.Secret(this, 'ApiTokens', {
      description: 'deep-agent: API bearer tokens, JSON {"tokens":{"<sha256 hex of token>":"<accountId>"}}.',
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ tokens: {} })),
    });
  }
}
