/**
 * Configuration is read once from the environment at an entry point (bin, a Lambda handler, the CLI main,
 * `createAgent`), validated against the one schema (`schema.ts`), and passed in as a `Config`. Nothing below
 * the entry points reads the process environment.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DeepAgentError, MissingConfigError } from '../errors/index.js';
import { CONFIG_SCHEMA, declaredVariables, type ParsedSection, type SectionName, type Variable } from './schema.js';

export { CONFIG_SCHEMA, DEFAULT_MODEL, SANDBOX_PROVIDERS, TOOL_SEARCH_SETTINGS, declaredVariables, type Variable, type SectionName } from './schema.js';
export { renderEnvironmentTable, replaceEnvironmentTable } from './env-table.js';

export type Env = Record<string, string | undefined>;

export type ModelSettings = ParsedSection<'model'>;
export type SandboxSettings = Omit<ParsedSection<'sandbox'>, 'provider'> & { provider: 'local' | 'e2b' | 'unsafe-local' };
export type McpSettings = ParsedSection<'mcp'>;
export type ApprovalSettings = ParsedSection<'approval'>;
export type ServeSettings = ParsedSection<'serve'>;
export type ApiSettings = ParsedSection<'api'>;
export type CliSettings = ParsedSection<'cli'>;
export type AwsSettings = ParsedSection<'aws'>;
export type AwsCredentialSettings = ParsedSection<'awsCredentials'>;

export interface Config {
  /**
   * Absolute path of the local state directory (`DEEP_AGENT_HOME`): the schema's `local` section, whose only
   * variable it is, kept at the top because nearly every part uses it.
   */
  home: string;
  model: ModelSettings;
  sandbox: SandboxSettings;
  /** `configPath` and `catalogPath` are absolute; `configPath` is `./.mcp.json` when unset and that file exists. */
  mcp: McpSettings;
  /**
   * Which tool calls wait for a person: `destructive` makes MCP tools that are not read-only ask
   * (`DEEP_AGENT_APPROVAL=destructive`), `tools` lists names or globs that always ask (`DEEP_AGENT_APPROVE_TOOLS`).
   */
  approval: ApprovalSettings;
  serve: ServeSettings;
  api: ApiSettings;
  cli: CliSettings;
  awsCredentials: AwsCredentialSettings;
  aws: AwsSettings;
  /**
   * The environment as given, for what takes it whole and never by a name of ours: the base environment of
   * MCP server processes (PATH, HOME, ...), `${VAR}` references in `.mcp.json`, and the redactor's list of
   * secret variables. Named settings are read from the sections above, never from here.
   */
  env: Env;
}

/** The trimmed value of a variable (or its first set alias); undefined when unset or blank. */
function rawValue(env: Env, v: Variable): string | undefined {
  for (const name of [v.name, ...(v.aliases ?? [])]) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return undefined;
}

function parseSection<S extends SectionName>(env: Env, section: S): ParsedSection<S> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(CONFIG_SCHEMA[section]) as Array<[string, Variable]>) {
    const raw = rawValue(env, v);
    const parsed = v.schema.safeParse(raw);
    if (!parsed.success) {
      throw new DeepAgentError('invalid_input', `${v.name} ${parsed.error.issues[0]?.message ?? 'is not valid'}, not "${raw}".`);
    }
    if (parsed.data !== undefined) out[key] = parsed.data;
  }
  return out as ParsedSection<S>;
}

/**
 * The defaults of one section, as the schema declares them (what an empty environment gives).
 *
 * @example
 * defaultSettings('serve').concurrency; // 2
 */
export function defaultSettings<S extends SectionName>(section: S): ParsedSection<S> {
  return parseSection({}, section);
}

/**
 * Reads and validates configuration; a bad value is one `invalid_input` line naming the variable.
 *
 * @example
 * const config = loadConfig(io.env, io.cwd); // at an entry point, e.g. the CLI's main
 * config.model.id; // 'claude-sonnet-5-5' unless DEEP_AGENT_MODEL says otherwise
 */
export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const local = parseSection(env, 'local');
  const sandbox = parseSection(env, 'sandbox');
  const mcp = parseSection(env, 'mcp');
  const defaultMcp = resolve(cwd, '.mcp.json');
  return {
    home: resolve(cwd, local.home),
    model: parseSection(env, 'model'),
    sandbox: { ...sandbox, provider: sandbox.provider ?? (sandbox.e2bApiKey ? 'e2b' : 'local') },
    mcp: {
      ...mcp,
      ...(mcp.configPath ? { configPath: resolve(cwd, mcp.configPath) } : existsSync(defaultMcp) ? { configPath: defaultMcp } : {}),
      ...(mcp.catalogPath ? { catalogPath: resolve(cwd, mcp.catalogPath) } : {}),
    },
    approval: parseSection(env, 'approval'),
    serve: parseSection(env, 'serve'),
    api: parseSection(env, 'api'),
    cli: parseSection(env, 'cli'),
    awsCredentials: parseSection(env, 'awsCredentials'),
    aws: parseSection(env, 'aws'),
    env,
  };
}

const unlocksOf = (section: SectionName, key: string): { name: string; unlocks: string } => {
  const v = (CONFIG_SCHEMA[section] as Record<string, Variable>)[key]!;
  return { name: v.name, unlocks: v.unlocks ?? 'this function' };
};

/** Throws a one-line MissingConfigError unless the model provider's credentials are present. */
export function requireModelCredentials(config: Config): void {
  if (config.model.provider === 'anthropic' && !config.model.anthropicApiKey && !config.model.anthropicAuthToken) {
    const { name, unlocks } = unlocksOf('model', 'anthropicApiKey');
    throw new MissingConfigError(name, unlocks);
  }
}

/** Throws a one-line MissingConfigError when E2B is selected without its key. */
export function requireSandboxCredentials(config: Config): void {
  if (config.sandbox.provider === 'e2b' && !config.sandbox.e2bApiKey) {
    const { name, unlocks } = unlocksOf('sandbox', 'e2bApiKey');
    throw new MissingConfigError(name, unlocks);
  }
}

/**
 * The AWS settings a Lambda function needs; throws a one-line MissingConfigError naming the first one absent.
 *
 * @example
 * const aws = requireAwsSettings(config, ['taskBucket', 'agentFunctionName']);
 * new S3TaskStore({ s3, bucket: aws.taskBucket });
 */
export function requireAwsSettings<K extends keyof AwsSettings>(config: Config, keys: readonly K[]): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const k of keys) {
    const value = config.aws[k];
    if (!value) {
      const { name, unlocks } = unlocksOf('aws', k);
      throw new MissingConfigError(name, unlocks);
    }
    out[k] = value as string;
  }
  return out;
}

/** Every variable that holds a secret, as declared by the schema. */
export const SECRET_VARIABLES: readonly string[] = declaredVariables()
  .filter((v) => v.secret)
  .map((v) => v.name);
