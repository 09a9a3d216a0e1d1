/**
 * MCP server configuration: the ecosystem's common `.mcp.json` shape, validated with zod, and the resolved
 * server specs the hub connects to.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { DeepAgentError } from '../errors/index.js';

/** A stdio server as written in `.mcp.json`. */
export const StdioEntrySchema = z.object({
  type: z.literal('stdio').optional(),
  command: z.string().min(1, 'command must not be empty'),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});

/**
 * OAuth settings of an HTTP server (all optional): a pre-registered client (`clientId`, `clientSecret`), a
 * Client ID Metadata Document URL, the scopes to ask for when the server names none, and a fixed loopback
 * callback port for clients registered with one redirect URI. Without them the client registers itself.
 */
export const OAuthEntrySchema = z
  .object({
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    scopes: z.union([z.string(), z.array(z.string())]).optional(),
    clientMetadataUrl: z.string().min(1).optional(),
    callbackPort: z.number().int().min(1).max(65_535).optional(),
  })
  .strict();

/** An HTTP server as written in `.mcp.json`; `type: "sse"` skips the streamable HTTP attempt. */
export const HttpEntrySchema = z.object({
  type: z.enum(['http', 'streamable-http', 'streamableHttp', 'sse']).optional(),
  url: z.url({ protocol: /^https?$/, error: 'url must be an http(s) URL' }),
  headers: z.record(z.string(), z.string()).default({}),
  oauth: OAuthEntrySchema.optional(),
});

export const McpConfigFileSchema = z.object({
  mcpServers: z.record(
    z.string().min(1),
    z.unknown().transform((v, ctx) => {
      const entry = typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
      const schema = entry && 'url' in entry && !('command' in entry) ? HttpEntrySchema : StdioEntrySchema;
      if (!entry || (!('url' in entry) && !('command' in entry))) {
        ctx.addIssue({ code: 'custom', message: 'needs either "command" (stdio) or "url" (HTTP)' });
        return z.NEVER;
      }
      const parsed = schema.safeParse(entry);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
        return z.NEVER;
      }
      return parsed.data;
    }),
  ),
});

export type StdioEntry = z.infer<typeof StdioEntrySchema>;
export type HttpEntry = z.infer<typeof HttpEntrySchema>;

/** OAuth settings of an HTTP server, `${VAR}` references expanded. */
export interface OAuthSettings {
  clientId?: string;
  clientSecret?: string;
  /** Space-separated, as OAuth writes them. */
  scopes?: string;
  clientMetadataUrl?: string;
  callbackPort?: number;
}

/** Where a server came from: the config file, a preset, or the builder's registry. */
export type McpServerSource = 'config' | 'preset' | 'deployed' | 'runtime' | 'e2b-gateway';

/** A stdio server, resolved: `${VAR}` references expanded, nothing inherited implicitly. */
export interface StdioServerSpec {
  transport: 'stdio';
  command: string;
  args: string[];
  /** The only variables the server sees besides PATH/HOME/LANG basics. */
  env: Record<string, string>;
  cwd?: string;
  /** Run inside the sandbox through `Sandbox.wrapSpawn` (built servers always do). @default false */
  sandboxed?: boolean;
  /** Network inside the sandbox, for sandboxed servers. @default false */
  network?: boolean;
  source?: McpServerSource;
}

/** An HTTP server: `http` tries streamable HTTP first and falls back to SSE; `sse` uses SSE only. */
export interface HttpServerSpec {
  transport: 'http' | 'sse';
  url: string;
  headers: Record<string, string>;
  /** OAuth settings from the config entry; a server without an `Authorization` header may log in either way. */
  oauth?: OAuthSettings;
  source?: McpServerSource;
}

export type McpServerSpec = StdioServerSpec | HttpServerSpec;

/** Servers ready to connect, and those left out with the reason why. */
export interface ResolvedMcpServers {
  servers: Record<string, McpServerSpec>;
  disabled: Record<string, string>;
  /**
   * Every value a `${VAR}` took from the environment: secret whatever the variable is called, so the hub adds
   * them to the run's redactor. The few basics that name places, not secrets (HOME, PATH, ...), are left out.
   */
  secrets?: string[];
}

/** Variables whose values are paths and names, not secrets; redacting them would blank every path in a log. */
const NOT_SECRET_VARS = new Set(['HOME', 'PATH', 'PWD', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'LANG', 'LC_ALL', 'TERM', 'INIT_CWD']);

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${VAR}` and `${VAR:-default}` from `env`. Only variables the user names are read; a named
 * variable that is unset and has no default is reported in `missing`.
 *
 * @example
 * expandVars('Bearer ${API_KEY}', { API_KEY: 'k' }); // { value: 'Bearer k', missing: [], secrets: ['k'] }
 */
export function expandVars(value: string, env: Record<string, string | undefined>): { value: string; missing: string[]; secrets: string[] } {
  const missing: string[] = [];
  const secrets: string[] = [];
  const out = value.replace(VAR_REF, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') {
      if (!NOT_SECRET_VARS.has(name)) secrets.push(v);
      return v;
    }
    if (fallback !== undefined) return fallback;
    missing.push(name);
    return '';
  });
  return { value: out, missing, secrets };
}

/**
 * Parses the text of an MCP config file into server specs. Throws one line naming the file and the problem.
 *
 * @example
 * parseMcpConfig('{"mcpServers":{"fs":{"command":"npx","args":["-y","@modelcontextprotocol/server-filesystem","."]}}}', '.mcp.json', config.env);
 */
export function parseMcpConfig(text: string, path: string, env: Record<string, string | undefined>): ResolvedMcpServers {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new DeepAgentError('invalid_input', `${path}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = McpConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'top level';
    throw new DeepAgentError('invalid_input', `${path}: ${where}: ${issue.message}`);
  }
  const result: ResolvedMcpServers = { servers: {}, disabled: {}, secrets: [] };
  for (const [name, entry] of Object.entries(parsed.data.mcpServers)) {
    const missing: string[] = [];
    const expand = (v: string) => {
      const r = expandVars(v, env);
      missing.push(...r.missing);
      result.secrets!.push(...r.secrets);
      return r.value;
    };
    const expandAll = (rec: Record<string, string>) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, expand(v)]));
    const spec: McpServerSpec =
      'command' in entry
        ? { transport: 'stdio', command: expand(entry.command), args: entry.args.map(expand), env: expandAll(entry.env), ...(entry.cwd ? { cwd: expand(entry.cwd) } : {}), source: 'config' }
        : {
            transport: entry.type === 'sse' ? 'sse' : 'http',
            url: expand(entry.url),
            headers: expandAll(entry.headers),
            ...(entry.oauth ? { oauth: expandOAuth(entry.oauth, expand) } : {}),
            source: 'config',
          };
    if (missing.length) {
      result.disabled[name] = `${[...new Set(missing)].join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set (named in ${path})`;
    } else {
      result.servers[name] = spec;
    }
  }
  return result;
}

function expandOAuth(o: z.infer<typeof OAuthEntrySchema>, expand: (v: string) => string): OAuthSettings {
  const scopes = Array.isArray(o.scopes) ? o.scopes.map(expand).join(' ') : o.scopes !== undefined ? expand(o.scopes) : undefined;
  return {
    ...(o.clientId ? { clientId: expand(o.clientId) } : {}),
    ...(o.clientSecret ? { clientSecret: expand(o.clientSecret) } : {}),
    ...(scopes?.trim() ? { scopes: scopes.trim() } : {}),
    ...(o.clientMetadataUrl ? { clientMetadataUrl: expand(o.clientMetadataUrl) } : {}),
    ...(o.callbackPort ? { callbackPort: o.callbackPort } : {}),
  };
}

/**
 * Reads and parses an MCP config file (`DEEP_AGENT_MCP_CONFIG` or `./.mcp.json`).
 *
 * @example
 * const { servers, disabled } = loadMcpConfigFile(config.mcpConfigPath!, config.env);
 */
export function loadMcpConfigFile(path: string, env: Record<string, string | undefined>): ResolvedMcpServers {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DeepAgentError('invalid_input', `${path}: cannot read the MCP config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseMcpConfig(text, path, env);
}
