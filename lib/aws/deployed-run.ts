/**
 * What the deployed agent function builds for one task: the configuration with the stack secret's values laid
 * over it (the operator's GitHub/Notion tokens only when the stack allows them for tenants), the assembled
 * agent, the calling account's running MCP connections as `mcp__<name>__<tool>` tools, and the task's `secrets`
 * read from that account's sealed connection credentials. `lambdas/agent.ts`
 * is this plus the AWS clients; the connections test runs this same function.
 */
import type { AssemblyOverrides } from '../assembly/index.js';
import { loadConfig, type Config, type Env } from '../config/index.js';
import { DeepAgentError } from '../errors/index.js';
import type { McpServerDefinition } from '../mcp-connections/index.js';
import type { Redactor } from '../secrets/index.js';
import { resolveTaskSecrets, type TaskRecord } from '../task/index.js';
import type { AgentRuntime } from './agent-handler.js';
import type { CredentialEnvelope } from './connection-envelope.js';
import { S3AccountCredentials } from './connection-credentials.js';
import { attachAccountConnections, type AccountConnections, type ConnectionSandboxes } from './connection-keeper.js';
import type { ConnectionServerRuntime } from './connection-server.js';
import type { S3ConnectionStore } from './connection-store.js';
import { attachRemoteConnections } from './remote-connections.js';
import type { S3Sender } from './s3-task-store.js';
import { configWithSecrets } from './secrets.js';

/** The secret's keys that are the operator's own service tokens (as opposed to the stack's infrastructure keys). */
export const OPERATOR_TOKEN_KEYS = ['GITHUB_TOKEN', 'NOTION_TOKEN'] as const;

/**
 * The secret's values a tenant's task may use: without `operatorTokensForTenants` the operator's GitHub and
 * Notion tokens are dropped, so their presets never attach and each account brings its own connection.
 *
 * @example
 * tenantSecrets({ ANTHROPIC_API_KEY: 'k', GITHUB_TOKEN: 'ghp_…' }, false); // { ANTHROPIC_API_KEY: 'k' }
 */
export function tenantSecrets<T extends Record<string, string | undefined>>(values: T, operatorTokensForTenants: boolean): Partial<T> {
  if (operatorTokensForTenants) return { ...values };
  const out: Partial<T> = { ...values };
  for (const k of OPERATOR_TOKEN_KEYS) delete out[k];
  return out;
}

/**
 * One tool per name: where an operator preset (allowed for tenants) and the account's own connection give the
 * same `mcp__<name>__<tool>`, the account's own wins; the model API refuses duplicate tool names.
 *
 * @example
 * withOwnToolsFirst([preset, own], [own]); // [own]
 */
export function withOwnToolsFirst<T extends { name: string }>(tools: T[], own: T[]): T[] {
  const ownNames = new Set(own.map((t) => t.name));
  return tools.filter((t) => !ownNames.has(t.name) || own.includes(t));
}

export interface DeployedRunDeps {
  /** The function's environment, read once at module scope. */
  environment: Env;
  /** The stack secret's values (loadSecrets). */
  secrets: Record<string, string | undefined>;
  /** The store's redactor: learns every secret and connection credential this run knows. */
  redactor: Redactor;
  connections?: {
    store: S3ConnectionStore;
    envelope: CredentialEnvelope;
    catalog(): Promise<McpServerDefinition[]>;
    /** The E2B provider of connection sandboxes (keep-alive timer off: calls extend them). */
    sandboxes(config: Config): ConnectionSandboxes;
    /** The same with the internet always on, for definitions with `network: true`. @default `sandboxes` */
    networkSandboxes?(config: Config): ConnectionSandboxes;
    runtime: ConnectionServerRuntime;
    /** The bucket of remote connections' sealed OAuth tokens; without it remote connections are not attached. */
    oauth?: { s3: S3Sender; bucket: string };
  };
  /** Tests bring a scripted model and a sandbox double; the function brings none. */
  overrides?: Pick<AssemblyOverrides, 'model' | 'sandboxProvider'>;
}

/**
 * @example
 * prepare: (record) => prepareDeployedRun(record, { environment, secrets: await loadSecrets(arn, { cache }), redactor, connections })
 */
export async function prepareDeployedRun(record: TaskRecord, deps: DeployedRunDeps): Promise<AgentRuntime> {
  const allowOperatorTokens = loadConfig(deps.environment).aws.operatorTokensForTenants;
  const values = tenantSecrets(deps.secrets, allowOperatorTokens);
  // Every value of the secret is redacted, also the operator tokens a tenant's task may not use.
  for (const v of Object.values(deps.secrets)) if (v) deps.redactor.add(v);
  const { config } = configWithSecrets(deps.environment, values);
  // This function's own rule: bubblewrap cannot run inside Lambda.
  if (!deps.overrides?.sandboxProvider && config.sandbox.provider !== 'e2b') {
    throw new DeepAgentError('invalid_input', 'DEEP_AGENT_SANDBOX must be e2b on AWS Lambda: bubblewrap cannot run there.');
  }
  let connections: AccountConnections | undefined;
  if (record.accountId && deps.connections && config.sandbox.e2bApiKey) {
    const c = deps.connections;
    connections = await attachAccountConnections(
      {
        store: c.store,
        envelope: c.envelope,
        catalog: await c.catalog(),
        sandboxes: c.sandboxes(config),
        ...(c.networkSandboxes ? { networkSandboxes: c.networkSandboxes(config) } : {}),
        runtime: c.runtime,
        redactor: deps.redactor,
      },
      record.accountId,
    );
  }
  // Remote (OAuth) connections need no sandbox: the account's tokens, decrypted here, reach them from this function.
  if (record.accountId && deps.connections?.oauth) {
    const c = deps.connections;
    const remote = await attachRemoteConnections(
      { s3: c.oauth!.s3, bucket: c.oauth!.bucket, envelope: c.envelope, store: c.store, catalog: await c.catalog(), redactor: deps.redactor },
      record.accountId,
    );
    const local = connections;
    connections = {
      tools: [...(local?.tools ?? []), ...remote.tools],
      attached: [...(local?.attached ?? []), ...remote.attached],
      unavailable: [...(local?.unavailable ?? []), ...remote.unavailable],
      close: async () => {
        await Promise.all([local?.close(), remote.close()]);
      },
    };
  }
  const unavailable = connections?.unavailable.length
    ? `These MCP connections of the account could not be started for this task: ${connections.unavailable.map((u) => `${u.name} (${u.error})`).join('; ')}.`
    : undefined;
  const { assembleAgent } = await import('../assembly/index.js');
  // No MCP builder: nothing of this installation can be mounted into E2B, and nothing it deployed would
  // outlive this Lambda instance. The assembly loads MCP lazily, which keeps the cold start short.
  const agent = await assembleAgent(config, {
    mcpBuilder: false,
    // The store's redactor: MCP registers its servers' secrets with it, as the connections' credentials are.
    redactor: deps.redactor,
    ...(deps.overrides ?? {}),
    ...(connections ? { tools: connections.tools } : {}),
    ...(unavailable ? { instructions: unavailable } : {}),
  });
  const options = agent.taskOptions(record.mcpServers);
  // The task's `secrets`: the account's own connection credentials, opened (KMS Decrypt) when the run starts.
  const credentials = deps.connections ? new S3AccountCredentials({ store: deps.connections.store, envelope: deps.connections.envelope }) : undefined;
  return {
    model: agent.model,
    sandboxProvider: agent.sandboxProvider,
    ...options,
    ...(credentials ? { taskSecrets: (r: TaskRecord) => resolveTaskSecrets(r, credentials, deps.redactor) } : {}),
    ...(connections && options.tools ? { tools: withOwnToolsFirst(options.tools, connections.tools) } : {}),
    close: async () => {
      await connections?.close();
      await agent.close();
    },
  };
}
