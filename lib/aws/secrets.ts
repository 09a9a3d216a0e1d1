/**
 * Secrets Manager at run time: one JSON secret (`SECRET_ARN`) with ANTHROPIC_API_KEY, E2B_API_KEY, GITHUB_TOKEN
 * and NOTION_TOKEN, read when first needed and cached in memory for a while. The values are merged into the
 * Config handed to the core; they are never written to the process environment and never logged.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadConfig, type Config, type Env } from '../config/index.js';
import { DeepAgentError } from '../errors/index.js';
import { Redactor, SECRET_ENV_NAMES } from '../secrets/index.js';

export type SecretsSender = Pick<SecretsManagerClient, 'send'>;

/** The keys the agent secret may hold; others are ignored. */
export const AGENT_SECRET_KEYS = ['ANTHROPIC_API_KEY', 'E2B_API_KEY', 'GITHUB_TOKEN', 'NOTION_TOKEN'] as const;

export interface SecretCacheOptions {
  /** @default 5 minutes */
  ttlMs?: number;
  now?: () => number;
}

/**
 * A TTL cache of JSON secrets. A failed read is not cached; concurrent reads of one secret share one call.
 *
 * @example
 * const secrets = new SecretCache(new SecretsManagerClient({}));
 * const values = await secrets.get(config.aws.secretArn!); // { ANTHROPIC_API_KEY: '…', … }
 */
export class SecretCache {
  private readonly entries = new Map<string, { at: number; value: Promise<Record<string, unknown>> }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: SecretsSender,
    options: SecretCacheOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  get(secretId: string): Promise<Record<string, unknown>> {
    const hit = this.entries.get(secretId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.value;
    const value = this.read(secretId);
    this.entries.set(secretId, { at: this.now(), value });
    value.catch(() => this.entries.delete(secretId));
    return value;
  }

  private async read(secretId: string): Promise<Record<string, unknown>> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: secretId }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString ?? '');
    } catch {
      // Never echo the secret's text: it is the one thing that must not reach a log.
      throw new DeepAgentError('missing_config', `secret ${secretId} is not a JSON object`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new DeepAgentError('missing_config', `secret ${secretId} is not a JSON object`);
    }
    return parsed as Record<string, unknown>;
  }
}

/**
 * Reads the agent secret and returns its token map (only the known keys, non-empty strings).
 *
 * @example
 * const tokens = await loadSecrets(config.aws.secretArn!, { cache }); // { ANTHROPIC_API_KEY: '…' }
 */
export async function loadSecrets(secretArn: string, deps: { cache: SecretCache }): Promise<Partial<Record<(typeof AGENT_SECRET_KEYS)[number], string>>> {
  const raw = await deps.cache.get(secretArn);
  const out: Partial<Record<(typeof AGENT_SECRET_KEYS)[number], string>> = {};
  for (const k of AGENT_SECRET_KEYS) {
    const v = raw[k];
    if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
  }
  return out;
}

/**
 * The Config of a Lambda: the environment with the secret's values laid over it (a copy; the process environment
 * is not touched), and a Redactor that knows every secret value.
 *
 * @example
 * const { config, redactor } = configWithSecrets(environment, await loadSecrets(arn, { cache }));
 */
export function configWithSecrets(env: Env, secrets: Record<string, string | undefined>): { config: Config; redactor: Redactor } {
  const merged: Env = { ...env, ...secrets };
  const config = loadConfig(merged);
  const redactor = new Redactor(SECRET_ENV_NAMES.map((n) => merged[n]));
  return { config, redactor };
}
