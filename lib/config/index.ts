/**
 * Configuration is read once from the environment, validated, and passed in. Nothing below `lib/config`
 * reads `process.env`.
 */
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_MODEL } from '../model/prices.js';
import { DeepAgentError, MissingConfigError } from '../errors/index.js';

export type Env = Record<string, string | undefined>;

export interface Config {
  anthropicApiKey?: string;
  anthropicBaseUrl?: string;
  model: string;
  modelProvider: 'anthropic' | 'bedrock';
  awsRegion?: string;
  /** Absolute path of the local state directory. */
  home: string;
  sandbox: 'local' | 'e2b' | 'unsafe-local';
  e2bApiKey?: string;
  /** E2B template name or id (`DEEP_AGENT_E2B_TEMPLATE`); default E2B's base template. */
  e2bTemplate?: string;
  /** Longest life of one E2B sandbox in seconds (`DEEP_AGENT_E2B_MAX_LIFETIME`): 3600 on Hobby, up to 86400 on Pro. */
  e2bMaxLifetimeSeconds?: number;
  /**
   * Resource limits of one task's sandbox, in MiB and processes (`DEEP_AGENT_SANDBOX_MEMORY_MB`, default 2048;
   * `DEEP_AGENT_SANDBOX_PIDS`, default 512; `DEEP_AGENT_SANDBOX_DISK_MB`, the workspace quota, default 4096).
   * Unset fields take the sandbox's defaults.
   */
  sandboxLimits: { memoryMb?: number; pids?: number; diskMb?: number };
  githubToken?: string;
  notionToken?: string;
  /** Absolute path of the MCP config file, when one is set or `./.mcp.json` exists. */
  mcpConfigPath?: string;
  apiToken?: string;
  /**
   * Which tool calls wait for a person: `destructive` makes MCP tools that are not read-only ask
   * (`DEEP_AGENT_APPROVAL=destructive`), `tools` lists names or globs that always ask (`DEEP_AGENT_APPROVE_TOOLS`).
   */
  approval: { destructive: boolean; tools: string[] };
  /** The raw environment, for adapters that must honour variables exactly as an SDK does. */
  env: Env;
}

const SANDBOXES = ['local', 'e2b', 'unsafe-local'] as const;

/**
 * Reads and validates configuration.
 *
 * @example
 * const config = loadConfig(process.env);
 */
export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const nonEmpty = (k: string) => (env[k] && env[k]!.trim() !== '' ? env[k]!.trim() : undefined);
  const provider = nonEmpty('DEEP_AGENT_MODEL_PROVIDER') ?? 'anthropic';
  if (provider !== 'anthropic' && provider !== 'bedrock') {
    throw new DeepAgentError('invalid_input', `DEEP_AGENT_MODEL_PROVIDER must be "anthropic" or "bedrock", not "${provider}".`);
  }
  const e2bApiKey = nonEmpty('E2B_API_KEY');
  const sandbox = nonEmpty('DEEP_AGENT_SANDBOX') ?? (e2bApiKey ? 'e2b' : 'local');
  if (!(SANDBOXES as readonly string[]).includes(sandbox)) {
    throw new DeepAgentError('invalid_input', `DEEP_AGENT_SANDBOX must be one of ${SANDBOXES.join(', ')}, not "${sandbox}".`);
  }
  const positiveInt = (k: string): number | undefined => {
    const v = nonEmpty(k);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) <= 0) throw new DeepAgentError('invalid_input', `${k} must be a positive whole number, not "${v}".`);
    return Number(v);
  };
  const approvalMode = nonEmpty('DEEP_AGENT_APPROVAL') ?? 'none';
  if (approvalMode !== 'none' && approvalMode !== 'destructive') {
    throw new DeepAgentError('invalid_input', `DEEP_AGENT_APPROVAL must be "none" or "destructive", not "${approvalMode}".`);
  }
  const approveTools = (nonEmpty('DEEP_AGENT_APPROVE_TOOLS') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const mcpConfig = nonEmpty('DEEP_AGENT_MCP_CONFIG');
  const defaultMcp = resolve(cwd, '.mcp.json');
  return {
    anthropicApiKey: nonEmpty('ANTHROPIC_API_KEY'),
    anthropicBaseUrl: nonEmpty('ANTHROPIC_BASE_URL'),
    model: nonEmpty('DEEP_AGENT_MODEL') ?? DEFAULT_MODEL,
    modelProvider: provider,
    awsRegion: nonEmpty('AWS_REGION') ?? nonEmpty('AWS_DEFAULT_REGION'),
    home: resolve(cwd, nonEmpty('DEEP_AGENT_HOME') ?? '.deep-agent'),
    sandbox: sandbox as Config['sandbox'],
    e2bApiKey,
    e2bTemplate: nonEmpty('DEEP_AGENT_E2B_TEMPLATE'),
    e2bMaxLifetimeSeconds: positiveInt('DEEP_AGENT_E2B_MAX_LIFETIME'),
    sandboxLimits: {
      ...(positiveInt('DEEP_AGENT_SANDBOX_MEMORY_MB') !== undefined ? { memoryMb: positiveInt('DEEP_AGENT_SANDBOX_MEMORY_MB') } : {}),
      ...(positiveInt('DEEP_AGENT_SANDBOX_PIDS') !== undefined ? { pids: positiveInt('DEEP_AGENT_SANDBOX_PIDS') } : {}),
      ...(positiveInt('DEEP_AGENT_SANDBOX_DISK_MB') !== undefined ? { diskMb: positiveInt('DEEP_AGENT_SANDBOX_DISK_MB') } : {}),
    },
    githubToken: nonEmpty('GITHUB_TOKEN'),
    notionToken: nonEmpty('NOTION_TOKEN'),
    mcpConfigPath: mcpConfig ? resolve(cwd, mcpConfig) : existsSync(defaultMcp) ? defaultMcp : undefined,
    apiToken: nonEmpty('DEEP_AGENT_API_TOKEN'),
    approval: { destructive: approvalMode === 'destructive', tools: approveTools },
    env,
  };
}

/** Throws a one-line MissingConfigError unless the model provider's credentials are present. */
export function requireModelCredentials(config: Config): void {
  if (config.modelProvider === 'anthropic' && !config.anthropicApiKey && !config.env.ANTHROPIC_AUTH_TOKEN) {
    throw new MissingConfigError('ANTHROPIC_API_KEY', 'calls to Claude (or set DEEP_AGENT_MODEL_PROVIDER=bedrock to use AWS credentials)');
  }
}

/** Throws a one-line MissingConfigError when E2B is selected without its key. */
export function requireSandboxCredentials(config: Config): void {
  if (config.sandbox === 'e2b' && !config.e2bApiKey) {
    throw new MissingConfigError('E2B_API_KEY', 'E2B cloud sandboxes (DEEP_AGENT_SANDBOX=e2b); unset it to use the local bubblewrap sandbox');
  }
}
