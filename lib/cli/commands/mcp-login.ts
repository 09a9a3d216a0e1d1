/** `deep-agent mcp login <server>` / `mcp logout <server>`: OAuth for a remote server named in `.mcp.json`. */
import { loadConfig, type Config } from '../../config/index.js';
import { openDatabase } from '../../local/index.js';
import { loginMcpServer, resolveMcpServers, type HttpServerSpec } from '../../mcp/index.js';
import { redactorFromEnv } from '../../secrets/index.js';
import { UsageError, type CliIo } from '../io.js';
import { localOAuthRecords, terminalAuthorizer } from '../oauth.js';

function httpServer(config: Config, name: string): HttpServerSpec {
  const resolved = resolveMcpServers(config);
  const spec = resolved.servers[name];
  if (!spec) {
    if (resolved.disabled[name]) throw new UsageError(`${name} is not attached: ${resolved.disabled[name]}`);
    const http = Object.entries(resolved.servers).filter(([, s]) => s.transport !== 'stdio').map(([n]) => n);
    throw new UsageError(`no MCP server "${name}" in ${config.mcp.configPath ?? '.mcp.json (none found)'}; HTTP servers: ${http.join(', ') || 'none'}`);
  }
  if (spec.transport === 'stdio') throw new UsageError(`${name} is a stdio server; only HTTP servers log in with OAuth`);
  return spec;
}

/**
 * @example
 * await mcpLogin(['notion'], io); // opens $BROWSER, then: "notion: connected, scopes granted: read write"
 */
export async function mcpLogin(args: string[], io: CliIo): Promise<number> {
  const name = args[0];
  if (!name || args.length > 1) throw new UsageError('mcp login takes one server name, e.g. deep-agent mcp login notion');
  const config = loadConfig(io.env, io.cwd);
  const spec = httpServer(config, name);
  const db = openDatabase(config.home);
  try {
    const result = await loginMcpServer({
      server: name,
      spec,
      records: localOAuthRecords(config, db),
      authorizer: terminalAuthorizer(io, config, { always: true })!,
      redactor: redactorFromEnv(config.env),
    });
    io.stdout.write(
      result.loggedIn
        ? `${name}: connected (${result.toolCount} tools), scopes granted: ${result.scopes ?? 'none named by the server'}\n`
        : `${name}: connected (${result.toolCount} tools) without a login; it asked for none\n`,
    );
    return 0;
  } finally {
    db.close();
  }
}

/**
 * @example
 * await mcpLogout(['notion'], io); // "notion: logged out (stored tokens deleted)"
 */
export async function mcpLogout(args: string[], io: CliIo): Promise<number> {
  const name = args[0];
  if (!name || args.length > 1) throw new UsageError('mcp logout takes one server name, e.g. deep-agent mcp logout notion');
  const config = loadConfig(io.env, io.cwd);
  const db = openDatabase(config.home);
  try {
    const removed = localOAuthRecords(config, db).delete(name);
    io.stdout.write(removed ? `${name}: logged out (stored tokens deleted)\n` : `${name}: no stored login\n`);
    return 0;
  } finally {
    db.close();
  }
}
