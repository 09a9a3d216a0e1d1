/**
 * The catalog of MCP server definitions a user can install as a connection: built-in entries for the servers
 * that run offline here (everything, memory, filesystem) plus GitHub and Notion, extended by a JSON file
 * (DEEP_AGENT_MCP_CATALOG).
 *
 * `startCommand` may use placeholders resolved when a connection starts in its sandbox:
 * `{node}` (the Node binary inside the sandbox), `{nodeModules}` (the project's node_modules, mounted read-only
 * at /opt/deep-agent/node_modules) and `{workspace}` (the connection's sandbox workspace). So may the values of
 * `env`, which is how a server that writes next to its own package (read-only here) is pointed at its
 * workspace instead, e.g. `{ "MEMORY_FILE_PATH": "{workspace}/memory.jsonl" }`.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DeepAgentError } from '../errors/index.js';

export const CredentialFieldSchema = z
  .object({
    description: z.string().max(500).default(''),
    required: z.boolean().default(true),
    /** The environment variable the value goes into. @default the field name */
    env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional(),
  })
  .strict();

export const McpServerDefinitionSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'lowercase letters, digits, "-" and "_" (at most 40)'),
    title: z.string().min(1).max(100),
    description: z.string().max(2_000).default(''),
    startCommand: z.object({ command: z.string().min(1), args: z.array(z.string()).default([]) }).strict(),
    credentialSchema: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), CredentialFieldSchema).default({}),
    defaultTimeoutSeconds: z.number().int().min(10).max(86_400).default(3_600),
    /** Whether the server needs the network (GitHub, Notion); others run with loopback only. @default false */
    network: z.boolean().default(false),
    /**
     * Environment of the server process (not secrets: those are credentials); values take the start command's
     * placeholders. A credential of the same name wins. @default {}
     */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(10_000)).default({}),
  })
  .strict();

export type McpServerDefinition = z.infer<typeof McpServerDefinitionSchema>;
export type McpServerDefinitionInput = z.input<typeof McpServerDefinitionSchema>;

const builtIn: McpServerDefinitionInput[] = [
  {
    id: 'everything',
    title: 'Everything (MCP reference server)',
    description: 'The MCP reference test server: echo, add, long-running operations, sample resources and prompts.',
    startCommand: { command: '{node}', args: ['{nodeModules}/@modelcontextprotocol/server-everything/dist/index.js', 'stdio'] },
    defaultTimeoutSeconds: 3_600,
  },
  {
    id: 'memory',
    title: 'Memory (knowledge graph)',
    description: 'A knowledge-graph memory kept in the connection sandbox (entities, relations, observations).',
    startCommand: { command: '{node}', args: ['{nodeModules}/@modelcontextprotocol/server-memory/dist/index.js'] },
    // Its default file sits next to its package, which is mounted read-only: keep the graph in the workspace.
    env: { MEMORY_FILE_PATH: '{workspace}/memory.jsonl' },
    defaultTimeoutSeconds: 3_600,
  },
  {
    id: 'filesystem',
    title: 'Filesystem (connection workspace)',
    description: "Reads and writes files in the connection's own sandbox workspace, nothing else.",
    startCommand: { command: '{node}', args: ['{nodeModules}/@modelcontextprotocol/server-filesystem/dist/index.js', '{workspace}'] },
    defaultTimeoutSeconds: 3_600,
  },
  {
    id: 'github',
    title: 'GitHub',
    description: 'Repositories, issues and pull requests through @modelcontextprotocol/server-github (needs the network and npx).',
    startCommand: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'] },
    credentialSchema: { GITHUB_PERSONAL_ACCESS_TOKEN: { description: 'a GitHub personal access token', required: true } },
    defaultTimeoutSeconds: 3_600,
    network: true,
  },
  {
    id: 'notion',
    title: 'Notion',
    description: 'Pages and databases through @notionhq/notion-mcp-server (needs the network and npx).',
    startCommand: { command: 'npx', args: ['-y', '@notionhq/notion-mcp-server'] },
    credentialSchema: { NOTION_TOKEN: { description: 'a Notion integration token', required: true } },
    defaultTimeoutSeconds: 3_600,
    network: true,
  },
];

/** The built-in definitions, validated. */
export const BUILT_IN_DEFINITIONS: McpServerDefinition[] = builtIn.map((d) => McpServerDefinitionSchema.parse(d));

const CatalogFileSchema = z.object({ definitions: z.array(McpServerDefinitionSchema).max(200) }).strict();

/**
 * The built-in definitions plus those of `file` (a JSON `{ "definitions": [...] }`); a file entry with a
 * built-in id replaces it. Throws `invalid_input` (one line) for an unreadable or invalid file.
 *
 * @example
 * const catalog = loadCatalog(config.mcp.catalogPath);
 */
export function loadCatalog(file?: string): McpServerDefinition[] {
  const byId = new Map(BUILT_IN_DEFINITIONS.map((d) => [d.id, d]));
  if (file) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new DeepAgentError('invalid_input', `DEEP_AGENT_MCP_CATALOG ${file} is not readable JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    for (const d of parseCatalogDefinitions(raw, `DEEP_AGENT_MCP_CATALOG ${file}`)) byId.set(d.id, d);
  }
  return [...byId.values()];
}

/**
 * Validates a parsed catalog document `{ "definitions": [...] }` (a file here, an S3 object on AWS) and
 * returns the built-ins with its entries laid over them. Throws `invalid_input` naming `source` and the field.
 *
 * @example
 * const catalog = catalogFromDocument(JSON.parse(text), 's3://bucket/config/mcp-catalog.json');
 */
export function catalogFromDocument(raw: unknown, source: string): McpServerDefinition[] {
  const byId = new Map(BUILT_IN_DEFINITIONS.map((d) => [d.id, d]));
  for (const d of parseCatalogDefinitions(raw, source)) byId.set(d.id, d);
  return [...byId.values()];
}

function parseCatalogDefinitions(raw: unknown, source: string): McpServerDefinition[] {
  const parsed = CatalogFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DeepAgentError('invalid_input', `${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data.definitions;
}

/**
 * Checks install credentials against a definition: every required field present, no unknown field, every
 * value a non-empty string. Throws `invalid_input` naming the fields (never their values).
 *
 * @example
 * const env = credentialEnv(definition, { GITHUB_PERSONAL_ACCESS_TOKEN: token }); // { GITHUB_PERSONAL_ACCESS_TOKEN: token }
 */
export function credentialEnv(definition: McpServerDefinition, credentials: Record<string, unknown>): Record<string, string> {
  const fields = definition.credentialSchema;
  const extra = Object.keys(credentials).filter((k) => !(k in fields));
  if (extra.length) {
    const known = Object.keys(fields);
    throw new DeepAgentError(
      'invalid_input',
      `${definition.id} takes no credential ${extra.map((k) => `"${k}"`).join(', ')}; it takes ${known.length ? known.join(', ') : 'no credentials'}`,
    );
  }
  const missing = Object.entries(fields).filter(([k, f]) => f.required && (credentials[k] === undefined || credentials[k] === '')).map(([k]) => k);
  if (missing.length) throw new DeepAgentError('invalid_input', `${definition.id} needs the credential ${missing.join(', ')}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(credentials)) {
    if (typeof v !== 'string' || v.length > 10_000 || v.includes('\0')) {
      throw new DeepAgentError('invalid_input', `credential ${k} must be a string of at most 10,000 characters`);
    }
    env[fields[k]!.env ?? k] = v;
  }
  return env;
}

/**
 * Replaces `{node}`, `{nodeModules}` and `{workspace}` in a start command and in the definition's `env`.
 *
 * @example
 * resolveStartCommand(memory, { node: '/opt/node/bin/node', nodeModules: '/opt/deep-agent/node_modules', workspace: '/workspace' }).env;
 * // { MEMORY_FILE_PATH: '/workspace/memory.jsonl' }
 */
export function resolveStartCommand(
  definition: McpServerDefinition,
  places: { node: string; nodeModules: string; workspace: string },
): { command: string; args: string[]; env: Record<string, string> } {
  const sub = (s: string) => s.replaceAll('{node}', places.node).replaceAll('{nodeModules}', places.nodeModules).replaceAll('{workspace}', places.workspace);
  const env = Object.fromEntries(Object.entries(definition.env ?? {}).map(([k, v]) => [k, sub(v)]));
  return { command: sub(definition.startCommand.command), args: definition.startCommand.args.map(sub), env };
}
