/** `deep-agent mcp list|tools`: which MCP servers are attached (and why the others are not), and their tools. */
import { parseArgs } from 'node:util';
import { assembleMcp } from '../../assembly/index.js';
import { loadConfig, type Config } from '../../config/index.js';
import { ApiClient } from '../../http/index.js';
import { readApiToken } from '../../local/index.js';
import { describePresets, type AttachedMcp } from '../../mcp/index.js';
import { lazyLocalOAuth } from '../oauth.js';
import { UsageError, type CliIo, type Command } from '../io.js';
import { mcpLogin, mcpLogout } from './mcp-login.js';

/** The MCP servers exactly as a run attaches them (lib/assembly), without a model. */
async function withMcp<T>(io: CliIo, fn: (mcp: AttachedMcp, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env, io.cwd);
  const oauth = lazyLocalOAuth(config);
  const { mcp } = await assembleMcp(config, { mcpOAuth: { records: oauth.records } }).catch((e) => {
    oauth.close();
    throw e;
  });
  try {
    return await fn(mcp, config);
  } finally {
    await mcp.close();
    oauth.close();
  }
}

const DEFAULT_API_URL = 'http://127.0.0.1:8787';

/** `--credential NAME` takes the value from the environment variable NAME (kept out of ps); `NAME=VALUE` is literal. */
function parseCredentials(items: string[], env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? env[name] : item.slice(eq + 1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--credential takes NAME or NAME=VALUE, not "${name}"`);
    if (value === undefined || value === '') throw new UsageError(`--credential ${name}: set the environment variable ${name} (or give ${name}=VALUE)`);
    out[name] = value;
  }
  return out;
}

/** `deep-agent mcp connections list|install|rm`: the connection manager of a running service. */
async function connections(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, api: { type: 'string' }, name: { type: 'string' }, credential: { type: 'string', multiple: true }, definitions: { type: 'boolean' } },
  });
  const [sub, target] = positionals;
  const config = loadConfig(io.env, io.cwd);
  const url = values.api ?? config.api.url ?? DEFAULT_API_URL;
  if (!/^https?:\/\//.test(url)) throw new UsageError(`--api needs an http(s) URL, not "${url}"`);
  const token = readApiToken(config.home, config.api.token);
  const api = new ApiClient({ url, ...(token ? { token } : {}) });
  const print = (v: unknown) => io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  if (sub === 'list') {
    if (values.definitions) {
      const defs = await api.listMcpServerDefinitions();
      if (values.json) return print(defs), 0;
      for (const d of defs) {
        const creds = Object.keys((d.credentialSchema as object | undefined) ?? {});
        io.stdout.write(`${d.id}: ${d.title}${creds.length ? ` (credentials: ${creds.join(', ')})` : ''}\n`);
      }
      return 0;
    }
    const list = await api.listMcpConnections();
    if (values.json) return print(list), 0;
    if (list.length === 0) io.stdout.write('no MCP connections; install one with deep-agent mcp connections install <definition>\n');
    for (const c of list) {
      io.stdout.write(`${c.id}  ${c.name} (${c.definitionId}): ${c.status}, ${(c.tools as string[]).length} tools${c.lastError ? ` - ${c.lastError}` : ''}\n`);
    }
    return 0;
  }
  if (sub === 'install') {
    if (!target) throw new UsageError('mcp connections install takes a definition id, e.g. deep-agent mcp connections install everything');
    const record = await api.installMcpConnection({
      definitionId: target,
      ...(values.name ? { name: values.name } : {}),
      credentials: parseCredentials(values.credential ?? [], io.env),
    });
    if (values.json) return print(record), 0;
    io.stdout.write(`${record.id}  ${record.name}: ${record.status}, ${(record.tools as string[]).length} tools${record.lastError ? ` - ${record.lastError}` : ''}\n`);
    return record.status === 'running' ? 0 : 1;
  }
  if (sub === 'rm') {
    if (!target) throw new UsageError('mcp connections rm takes a connection id (see deep-agent mcp connections list)');
    await api.deleteMcpConnection(target);
    io.stdout.write(`removed ${target}\n`);
    return 0;
  }
  throw new UsageError('mcp connections takes list, install or rm, e.g. deep-agent mcp connections list');
}

export const mcpCommand: Command = {
  name: 'mcp',
  summary: 'MCP servers (attached or not, and why) and their tools',
  usage: `deep-agent mcp list [--json]
deep-agent mcp tools [--server NAME] [--json]
deep-agent mcp connections list [--definitions] [--json] [--api URL]
deep-agent mcp connections install <definition> [--name NAME] [--credential NAME[=VALUE]]... [--json] [--api URL]
deep-agent mcp connections rm <id> [--api URL]
deep-agent mcp login <server>
deep-agent mcp logout <server>

Servers come from DEEP_AGENT_MCP_CONFIG (default ./.mcp.json), the GitHub and Notion presets (attached when
GITHUB_TOKEN / NOTION_TOKEN are set), and servers the agent built and deployed (DEEP_AGENT_HOME/mcp-servers).
\`connections\` talks to a running service (deep-agent serve, or --api URL): each installed connection runs
in a sandbox of its own with its credentials stored encrypted. --credential NAME reads the value from the
environment variable NAME, so it stays out of the process list.
\`login\` logs in to an HTTP server of .mcp.json with OAuth: it listens on 127.0.0.1 for the callback and opens
the authorization page with $BROWSER (else prints its URL); tokens are stored encrypted in DEEP_AGENT_HOME.
\`logout\` deletes them.`,
  async run(args, io) {
    if (args[0] === 'connections') return connections(args.slice(1), io);
    if (args[0] === 'login') return mcpLogin(args.slice(1), io);
    if (args[0] === 'logout') return mcpLogout(args.slice(1), io);
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, server: { type: 'string' } } });
    const sub = positionals[0];
    if (sub !== 'list' && sub !== 'tools') throw new UsageError('mcp takes list, tools, connections, login or logout, e.g. deep-agent mcp list');
    return withMcp(io, async (mcp, config) => {
      if (sub === 'list') {
        const status = mcp.status();
        const presets = describePresets(config).filter((p) => !p.attached && !status.some((s) => s.name === p.name));
        if (values.json) {
          io.stdout.write(`${JSON.stringify({ servers: status, presetsNotAttached: presets.map((p) => ({ name: p.name, reason: p.reason })) }, null, 2)}\n`);
          return 0;
        }
        if (status.length === 0) io.stdout.write('no MCP servers attached\n');
        for (const s of status) {
          io.stdout.write(`${s.name}: ${s.state}${s.transport ? ` (${s.transport}${s.source ? `, ${s.source}` : ''})` : ''}, ${s.toolCount} tools${s.reason ? ` - ${s.reason}` : ''}\n`);
        }
        for (const p of presets) io.stdout.write(`${p.name}: not attached - ${p.reason}\n`);
        return 0;
      }
      const tools = mcp.hub.tools(values.server ? { servers: [values.server] } : {});
      if (values.json) {
        io.stdout.write(`${JSON.stringify(tools.map((t) => ({ name: t.name, server: t.server, tool: t.mcpName, description: t.description, annotations: t.annotations })), null, 2)}\n`);
        return 0;
      }
      if (tools.length === 0) io.stdout.write('no MCP tools\n');
      for (const t of tools) io.stdout.write(`${t.name}  ${t.description.split('\n')[0]!.slice(0, 100)}\n`);
      return 0;
    });
  },
};
