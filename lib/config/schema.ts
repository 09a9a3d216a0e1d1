/**
 * The one configuration schema: every environment variable the product reads, declared once with its zod
 * schema, description and default, grouped in sections. `loadConfig` parses the environment with it, and the
 * README's environment table is rendered from it (`npm run docs:env`; a unit test keeps the two in step).
 */
import * as z from 'zod';

/**
 * The newest Sonnet that the installed `@anthropic-ai/sdk` lists and does not mark deprecated
 * (a unit test checks this against the SDK's own `Model` type and deprecation table).
 */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';
// The sandbox-runtime's host pattern check, the one the sandboxes and the task schema use (a small pure module).
import { isValidAllowedDomainEntry } from '@anthropic-ai/sandbox-runtime/dist/sandbox/domain-pattern.js';

/** One environment variable: where it is read from, how it is parsed, and what the README says about it. */
export interface Variable<S extends z.ZodType = z.ZodType> {
  /** The variable's name; `aliases` are read, in order, when it is unset. */
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Parses the trimmed value (`undefined` when unset or blank); its error message completes "NAME ...". */
  readonly schema: S;
  readonly description: string;
  /** The default as the README shows it; absent when there is none. */
  readonly default?: string;
  /** Secret values are redacted wherever the product writes. */
  readonly secret?: boolean;
  /** What the variable unlocks, for the one-line MissingConfigError when a caller requires it. */
  readonly unlocks?: string;
}

const variable = <S extends z.ZodType>(v: Variable<S>): Variable<S> => v;

const text = () => z.string().optional();
const oneOf = <const T extends readonly [string, ...string[]]>(values: T, message: string) => z.enum(values, { error: message });
const wholeNumber = (min: number, fallback?: number) => {
  const n = z.coerce.number({ error: `must be a whole number >= ${min}` }).int({ error: `must be a whole number >= ${min}` }).min(min, { error: `must be a whole number >= ${min}` });
  return fallback === undefined ? n.optional() : n.default(fallback);
};
const positiveWholeNumber = () =>
  z
    .string()
    .regex(/^\d+$/, { error: 'must be a positive whole number' })
    .transform(Number)
    .refine((n) => n > 0, { error: 'must be a positive whole number' })
    .optional();
const list = () =>
  z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean));

export const SANDBOX_PROVIDERS = ['local', 'e2b', 'unsafe-local'] as const;
/** `DEEP_AGENT_TOOL_SEARCH` values (lib/model resolves `auto`). */
export const TOOL_SEARCH_SETTINGS = ['auto', 'api', 'client', 'off'] as const;

/** The sections of the configuration; each key becomes a field of the matching `Config` section. */
export const CONFIG_SCHEMA = {
  /** Where the local runtime keeps its state. */
  local: {
    home: variable({
      name: 'DEEP_AGENT_HOME',
      schema: z.string().default('.deep-agent'),
      description: 'local state directory (SQLite database, workspaces, task logs, deployed MCP servers), relative to the working directory',
      default: '`./.deep-agent`',
    }),
  },
  model: {
    provider: variable({
      name: 'DEEP_AGENT_MODEL_PROVIDER',
      schema: oneOf(['anthropic', 'bedrock'], 'must be "anthropic" or "bedrock"').default('anthropic'),
      description: '`anthropic` or `bedrock` (AWS credentials and `AWS_REGION`, no Anthropic key; model ids without a Bedrock prefix get `global.anthropic.`)',
      default: '`anthropic`',
    }),
    id: variable({
      name: 'DEEP_AGENT_MODEL',
      schema: z.string().default(DEFAULT_MODEL),
      description: 'model id; the default is the newest Sonnet the installed `@anthropic-ai/sdk` lists and does not mark deprecated (a unit test checks this against the SDK)',
      default: `\`${DEFAULT_MODEL}\``,
    }),
    anthropicApiKey: variable({
      name: 'ANTHROPIC_API_KEY',
      schema: text(),
      description: 'the Anthropic API key, honoured exactly as the Anthropic SDK does',
      secret: true,
      unlocks: 'calls to Claude (or set DEEP_AGENT_MODEL_PROVIDER=bedrock to use AWS credentials)',
    }),
    anthropicAuthToken: variable({
      name: 'ANTHROPIC_AUTH_TOKEN',
      schema: text(),
      description: 'a bearer token sent instead of (or beside) the API key, as the Anthropic SDK does; for gateways that take one',
      secret: true,
    }),
    anthropicBaseUrl: variable({
      name: 'ANTHROPIC_BASE_URL',
      schema: text(),
      description: 'base URL of the Anthropic API, honoured exactly as the Anthropic SDK does; a gateway or proxy works by setting it',
      default: '`https://api.anthropic.com`',
    }),
    awsRegion: variable({
      name: 'AWS_REGION',
      aliases: ['AWS_DEFAULT_REGION'],
      schema: text(),
      description: 'AWS region of Bedrock (`DEEP_AGENT_MODEL_PROVIDER=bedrock`); `AWS_DEFAULT_REGION` when unset',
    }),
    toolSearch: variable({
      name: 'DEEP_AGENT_TOOL_SEARCH',
      schema: oneOf(TOOL_SEARCH_SETTINGS, `must be one of ${TOOL_SEARCH_SETTINGS.join(', ')}`).default('auto'),
      description:
        'how MCP tools past 10k schema tokens are found: `api` defers them behind the API\'s tool search, `client` withholds them behind a built-in `search_tools` tool (for Bedrock, older models, or a proxy that rejects the API\'s), `auto` picks `api` on the Anthropic API with Opus or Sonnet 4.5 and newer and `client` elsewhere, `off` always sends every schema',
      default: '`auto`',
    }),
  },
  sandbox: {
    provider: variable({
      name: 'DEEP_AGENT_SANDBOX',
      schema: oneOf(SANDBOX_PROVIDERS, `must be one of ${SANDBOX_PROVIDERS.join(', ')}`).optional(),
      description: '`local` (bubblewrap), `e2b`, or `unsafe-local` (no isolation)',
      default: '`e2b` when `E2B_API_KEY` is set, else `local`',
    }),
    e2bApiKey: variable({
      name: 'E2B_API_KEY',
      schema: text(),
      description: 'E2B cloud sandboxes (and E2B\'s MCP gateway)',
      secret: true,
      unlocks: 'E2B cloud sandboxes (DEEP_AGENT_SANDBOX=e2b); unset it to use the local bubblewrap sandbox',
    }),
    e2bTemplate: variable({
      name: 'DEEP_AGENT_E2B_TEMPLATE',
      schema: text(),
      description: 'E2B template name or id of the sandboxes',
      default: 'E2B\'s `base`',
    }),
    e2bMaxLifetimeSeconds: variable({
      name: 'DEEP_AGENT_E2B_MAX_LIFETIME',
      schema: positiveWholeNumber(),
      description: 'longest life of one E2B sandbox in seconds (3600 on Hobby, up to 86400 on Pro)',
      default: '`3600`',
    }),
    memoryMb: variable({
      name: 'DEEP_AGENT_SANDBOX_MEMORY_MB',
      schema: positiveWholeNumber(),
      description: 'memory of one task\'s sandbox in MiB; a command past it is stopped with a tool error naming it',
      default: '`2048`',
    }),
    pids: variable({
      name: 'DEEP_AGENT_SANDBOX_PIDS',
      schema: positiveWholeNumber(),
      description: 'processes of one task\'s sandbox at once (a fork bomb is contained by it)',
      default: '`512`',
    }),
    networkAllow: variable({
      name: 'DEEP_AGENT_NETWORK_ALLOW',
      schema: list()
        .transform((hosts) => hosts.map((h) => h.toLowerCase()))
        .refine((hosts) => hosts.every(isValidAllowedDomainEntry), { error: 'must list hosts such as pkg.example.org, *.cdn.example.org or api.example.com:443 ("*" and "*.com" are too broad)' }),
      description:
        'default egress allowlist of a task that brings none (comma-separated hosts, `*.domain`, `host:port`); every command of the task, `network: true` included, reaches only these hosts, through a proxy',
      default: 'none: `network: true` is any public host (internal addresses refused)',
    }),
    secrets: variable({
      name: 'DEEP_AGENT_SANDBOX_SECRETS',
      schema: text()
        .transform((v, ctx) => {
          const out: { name: string; hosts: string[]; header?: string }[] = [];
          for (const part of (v ?? '').split(';').map((p) => p.trim()).filter(Boolean)) {
            const [key = '', hosts = ''] = part.split('=', 2).map((x) => x.trim());
            const [name = '', header] = key.split('@', 2).map((x) => x.trim());
            const list = hosts.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
            const headerOk = header === undefined || /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header);
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !headerOk || list.length === 0 || !list.every(isValidAllowedDomainEntry)) {
              ctx.addIssue({ code: 'custom', message: `must be VAR=host1,host2;VAR2@Header-Name=host3 (at "${part}")` });
              return z.NEVER;
            }
            out.push({ name, hosts: list, ...(header ? { header } : {}) });
          }
          return out;
        }),
      description:
        '`VAR=host1,host2;VAR2@Header-Name=host3`: inside the sandbox each `VAR` holds a sentinel. Locally the egress proxy puts the real value (from this environment) where the sentinel is, only on requests to those hosts; on E2B a network rule injects `Authorization: Bearer <value>` (or `Header-Name: <value>`) on HTTPS requests to those hosts',
    }),
    diskMb: variable({
      name: 'DEEP_AGENT_SANDBOX_DISK_MB',
      schema: positiveWholeNumber(),
      description: 'the workspace quota of one task\'s sandbox in MiB; a write past it fails with an error naming it',
      default: '`4096`',
    }),
  },
  mcp: {
    configPath: variable({
      name: 'DEEP_AGENT_MCP_CONFIG',
      schema: text(),
      description: 'a JSON file in the common `{ "mcpServers": { ... } }` shape (as Claude Code\'s `.mcp.json`)',
      default: '`./.mcp.json` when present',
    }),
    githubToken: variable({
      name: 'GITHUB_TOKEN',
      schema: text(),
      description: 'the GitHub MCP preset; it attaches only when the token is set',
      secret: true,
      unlocks: 'the GitHub MCP server',
    }),
    githubTransport: variable({
      name: 'DEEP_AGENT_GITHUB_MCP',
      schema: oneOf(['http', 'stdio', 'e2b'], 'must be "http", "stdio" or "e2b"').default('http'),
      description: 'how the GitHub preset runs: GitHub\'s remote server over `http`, the npm `stdio` server, or through E2B\'s MCP gateway (`e2b`)',
      default: '`http`',
    }),
    notionToken: variable({
      name: 'NOTION_TOKEN',
      schema: text(),
      description: 'the Notion MCP preset; it attaches only when the token is set',
      secret: true,
      unlocks: 'the Notion MCP server',
    }),
    notionTransport: variable({
      name: 'DEEP_AGENT_NOTION_MCP',
      schema: oneOf(['stdio', 'e2b'], 'must be "stdio" or "e2b"').default('stdio'),
      description: 'how the Notion preset runs: the npm `stdio` server, or through E2B\'s MCP gateway (`e2b`)',
      default: '`stdio`',
    }),
    catalogPath: variable({
      name: 'DEEP_AGENT_MCP_CATALOG',
      schema: text(),
      description: 'a JSON file `{ "definitions": [...] }` of extra server definitions for the MCP connection manager',
    }),
  },
  approval: {
    destructive: variable({
      name: 'DEEP_AGENT_APPROVAL',
      schema: oneOf(['none', 'destructive'], 'must be "none" or "destructive"')
        .default('none')
        .transform((v) => v === 'destructive'),
      description: '`destructive` makes MCP tools that are not marked read-only wait for a person',
      default: '`none`',
    }),
    tools: variable({
      name: 'DEEP_AGENT_APPROVE_TOOLS',
      schema: list(),
      description: 'comma-separated tool names or globs (`run_command,mcp__github__*`) that always wait for a person',
    }),
  },
  /** The local service, `deep-agent serve`. */
  serve: {
    concurrency: variable({
      name: 'DEEP_AGENT_WORKER_CONCURRENCY',
      schema: wholeNumber(1, 2),
      description: 'tasks the `serve` worker runs at once',
      default: '`2`',
    }),
    visibilityTimeoutSeconds: variable({
      name: 'DEEP_AGENT_VISIBILITY_TIMEOUT_SECONDS',
      schema: wholeNumber(1, 60),
      description: 'seconds a received task stays invisible to other workers (renewed while it runs)',
      default: '`60`',
    }),
    maxAttempts: variable({
      name: 'DEEP_AGENT_MAX_ATTEMPTS',
      schema: wholeNumber(1, 3),
      description: 'deliveries of a task before it fails for good',
      default: '`3`',
    }),
    retryDelaySeconds: variable({
      name: 'DEEP_AGENT_RETRY_DELAY_SECONDS',
      schema: wholeNumber(0, 1),
      description: 'seconds before a failed attempt is delivered again',
      default: '`1`',
    }),
    secretKey: variable({
      name: 'DEEP_AGENT_SECRET_KEY',
      schema: text(),
      description: 'the AES-256-GCM key (base64 or hex, 32 bytes) of stored credentials',
      default: 'generated into `DEEP_AGENT_HOME/secret.key`',
      secret: true,
    }),
  },
  /** The HTTP API, served by `serve` or API Gateway, and the CLI commands that talk to it. */
  api: {
    token: variable({
      name: 'DEEP_AGENT_API_TOKEN',
      schema: text(),
      description: 'bearer token of the API: `serve` accepts it, `submit`/`status`/... send it',
      default: 'generated into `DEEP_AGENT_HOME/api-token`',
      secret: true,
    }),
    url: variable({
      name: 'DEEP_AGENT_API_URL',
      schema: text(),
      description: 'the API that `submit`, `status`, `logs`, `cancel`, `approve`, `schedules` and `mcp connections` talk to (`--api` wins)',
      default: '`http://127.0.0.1:8787`',
    }),
  },
  cli: {
    debug: variable({
      name: 'DEEP_AGENT_DEBUG',
      schema: z
        .string()
        .optional()
        .transform((v) => v === '1'),
      description: '`1` prints stack traces for unexpected errors (the CLI reads it before the rest, so a bad configuration can be debugged too)',
    }),
    browser: variable({
      name: 'BROWSER',
      schema: text(),
      description: 'the program `mcp login` (and a CLI run asked for more OAuth scope) opens authorization pages with; `%s` in it stands for the URL',
      default: 'the URL is printed',
    }),
    noColor: variable({
      name: 'NO_COLOR',
      schema: z
        .string()
        .optional()
        .transform((v) => v !== undefined && v !== ''),
      description: 'any value turns colour off in the CLI\'s progress (the no-color.org convention)',
    }),
    term: variable({
      name: 'TERM',
      schema: text(),
      description: '`dumb` turns off the live timer and colour, as on any terminal program',
    }),
  },
  /** Read by the AWS SDK itself (Bedrock, `cdk deploy`); `deep-agent doctor` only says which source is there. */
  awsCredentials: {
    accessKeyId: variable({ name: 'AWS_ACCESS_KEY_ID', schema: text(), description: 'AWS access key id, read by the AWS SDK (Bedrock, deploy)' }),
    secretAccessKey: variable({ name: 'AWS_SECRET_ACCESS_KEY', schema: text(), description: 'AWS secret access key, read by the AWS SDK', secret: true }),
    sessionToken: variable({ name: 'AWS_SESSION_TOKEN', schema: text(), description: 'AWS session token of temporary credentials, read by the AWS SDK', secret: true }),
    profile: variable({ name: 'AWS_PROFILE', schema: text(), description: 'the profile of `~/.aws/config` the AWS SDK uses' }),
    webIdentityTokenFile: variable({ name: 'AWS_WEB_IDENTITY_TOKEN_FILE', schema: text(), description: 'a web identity token (CI, EKS) the AWS SDK exchanges for credentials' }),
  },
  /** Set by the CDK stack on the Lambda functions; each function requires the ones it uses. */
  aws: {
    taskBucket: variable({ name: 'TASK_BUCKET', schema: text(), description: 'the S3 bucket of task records and events', unlocks: 'task records and events in S3' }),
    taskQueueUrl: variable({ name: 'TASK_QUEUE_URL', schema: text(), description: 'the SQS task queue', unlocks: 'sending tasks to the queue' }),
    taskQueueArn: variable({ name: 'TASK_QUEUE_ARN', schema: text(), description: 'the task queue, as the schedules\' target', unlocks: 'EventBridge schedules' }),
    agentFunctionName: variable({ name: 'AGENT_FUNCTION_NAME', schema: text(), description: 'the durable agent function (qualified)', unlocks: 'starting durable agent runs' }),
    sweeperFunctionName: variable({ name: 'SWEEPER_FUNCTION_NAME', schema: text(), description: 'the sandbox sweeper function, invoked after a cancel stops an execution', unlocks: 'killing the sandboxes of a cancelled task' }),
    secretArn: variable({ name: 'SECRET_ARN', schema: text(), description: 'the Secrets Manager secret with the Anthropic, E2B, GitHub and Notion tokens', unlocks: 'reading the Anthropic/E2B/GitHub/Notion tokens' }),
    apiTokensSecretArn: variable({ name: 'API_TOKENS_SECRET_ARN', schema: text(), description: 'the secret of API tokens and their accounts', unlocks: 'authorizing API callers' }),
    scheduleGroupName: variable({ name: 'SCHEDULE_GROUP_NAME', schema: text(), description: 'the EventBridge Scheduler group of dynamic schedules', unlocks: 'EventBridge schedules' }),
    schedulerRoleArn: variable({ name: 'SCHEDULER_ROLE_ARN', schema: text(), description: 'the role EventBridge Scheduler sends to the queue with', unlocks: 'EventBridge schedules' }),
    schedulerDlqArn: variable({ name: 'SCHEDULER_DLQ_ARN', schema: text(), description: 'the dead-letter queue of the schedules', unlocks: 'EventBridge schedules' }),
    connectionKeyArn: variable({ name: 'CONNECTION_KEY_ARN', schema: text(), description: 'the KMS key MCP connection credentials are envelope-encrypted under', unlocks: 'MCP connections on AWS (encrypted credentials)' }),
    keeperFunctionName: variable({ name: 'KEEPER_FUNCTION_NAME', schema: text(), description: 'the MCP connection keeper function, invoked after an install or a delete', unlocks: 'starting MCP connections right after an install' }),
    mcpCatalogKey: variable({
      name: 'MCP_CATALOG_KEY',
      schema: z.string().default('config/mcp-catalog.json'),
      description: 'the S3 key, in the task bucket, of the operator\'s catalog of MCP server definitions (`{ "definitions": [...] }`; absent: the built-ins only)',
      default: '`config/mcp-catalog.json`',
    }),
    operatorTokensForTenants: variable({
      name: 'DEEP_AGENT_OPERATOR_TOKENS_FOR_TENANTS',
      schema: oneOf(['true', 'false'], 'must be "true" or "false"')
        .default('false')
        .transform((v) => v === 'true'),
      description: 'on AWS, whether the GITHUB_TOKEN and NOTION_TOKEN of the stack\'s secret serve every account\'s tasks (the stack setting `operatorTokensForTenants`); otherwise each account installs its own GitHub/Notion connection',
      default: '`false`',
    }),
  },
} as const;

export type ConfigSchema = typeof CONFIG_SCHEMA;
export type SectionName = keyof ConfigSchema;

/** The parsed values of one section, as the schema declares them. */
export type ParsedSection<S extends SectionName> = { -readonly [K in keyof ConfigSchema[S]]: ConfigSchema[S][K] extends Variable<infer T> ? z.output<T> : never };

/** Every declared variable with its section, in declaration order (the README table's rows). */
export function declaredVariables(): Array<Variable & { section: SectionName; key: string }> {
  return Object.entries(CONFIG_SCHEMA).flatMap(([section, vars]) =>
    Object.entries(vars as Record<string, Variable>).map(([key, v]) => ({ ...v, section: section as SectionName, key })),
  );
}
