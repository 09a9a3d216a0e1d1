/** `deep-agent serve [--port 8787]`: the local API, queue worker and scheduler on 127.0.0.1. */
import { parseArgs } from 'node:util';
import { assembleAgent } from '../../assembly/index.js';
import { loadConfig } from '../../config/index.js';
import { openLocalMcpConnections } from '../../mcp-connections/index.js';
import { ensureApiToken, LOCAL_ACCOUNT, startLocalService } from '../../local/index.js';
import { serveTaskLog } from '../progress.js';
import { UsageError, type Command } from '../io.js';
import { lazyLocalOAuth, localHttpOAuthLogins, withAccountConnections } from '../oauth.js';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the local API, queue worker and scheduler on 127.0.0.1',
  usage: `deep-agent serve [--port 8787] [--grace SECONDS]

Listens on 127.0.0.1 only. Every request needs Authorization: Bearer <token>, where the token is
DEEP_AGENT_API_TOKEN or the one generated into DEEP_AGENT_HOME/api-token (mode 0600).
SIGTERM / Ctrl-C: stop taking work, let running tasks finish within --grace (default 10 s), release the rest
so that the next start resumes them.

Environment: DEEP_AGENT_WORKER_CONCURRENCY (2), DEEP_AGENT_VISIBILITY_TIMEOUT_SECONDS (60),
DEEP_AGENT_MAX_ATTEMPTS (3), DEEP_AGENT_RETRY_DELAY_SECONDS (1), DEEP_AGENT_APPROVE_TOOLS (tool globs that
need approval, e.g. run_command,mcp__github__*), DEEP_AGENT_APPROVAL=destructive (MCP tools not marked
read-only ask too), DEEP_AGENT_MCP_CATALOG (extra MCP server definitions for deep-agent mcp connections).`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { port: { type: 'string' }, grace: { type: 'string' } } });
    const port = Number(values.port ?? 8787);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a port number, not "${values.port}"`);
    const graceSeconds = Number(values.grace ?? 10);
    if (!(graceSeconds >= 0)) throw new UsageError(`--grace takes seconds, not "${values.grace}"`);
    const config = loadConfig(io.env, io.cwd);
    // Tasks use the OAuth logins of .mcp.json's HTTP servers (no browser here: a missing login is needs_login);
    // the assembly's one redactor learns their tokens.
    const oauth = lazyLocalOAuth(config);
    const agent = await assembleAgent(config, { mcpOAuth: { records: oauth.records } });
    const { token, file } = ensureApiToken(config.home, config.api.token);
    const onError = (e: unknown) => io.stderr.write(`deep-agent serve: ${(e as Error)?.message ?? String(e)}\n`);
    const connections = await openLocalMcpConnections({
      redactor: agent.redactor,
      home: config.home,
      ...(config.serve.secretKey ? { secretKey: config.serve.secretKey } : {}),
      ...(config.mcp.catalogPath ? { catalogFile: config.mcp.catalogPath } : {}),
      // Connection servers run where the tasks' commands run: bubblewrap locally, their own sandbox on E2B.
      sandboxProvider: agent.sandboxProvider,
      onError,
    });
    const svc = await startLocalService({
      home: config.home,
      token,
      model: agent.model,
      sandboxProvider: agent.sandboxProvider,
      ...(agent.approvalPolicy ? { approvalPolicy: agent.approvalPolicy } : {}),
      // What serve adds to the assembled agent: the connection manager's tools of the task's account.
      taskOptions: (record) => withAccountConnections(agent.taskOptions(record.mcpServers), connections.manager, record.accountId ?? LOCAL_ACCOUNT),
      mcpConnections: connections.manager,
      // A task's `secrets` name credentials of the account's connections: checked at submit, read when it runs.
      credentials: connections.manager,
      // {id}: a remote connection's id, or a .mcp.json HTTP server's name.
      mcpOAuth: localHttpOAuthLogins(config, oauth.store, agent.mcp.hub, agent.redactor, connections.manager),
      settings: config.serve,
      port,
      redactor: agent.redactor,
      ...(config.serve.secretKey ? { secretKey: config.serve.secretKey } : {}),
      onError,
      onEvent: serveTaskLog(io.stderr),
    });
    io.stderr.write(
      `deep-agent serve: listening on ${svc.url} (worker concurrency ${config.serve.concurrency}, home ${config.home})\n` +
        `token: ${file ? `in ${file} (the CLI reads it from there)` : 'DEEP_AGENT_API_TOKEN'}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    io.stderr.write(`deep-agent serve: stopping (grace ${graceSeconds} s)\n`);
    const { released } = await svc.stop(graceSeconds * 1000);
    if (released.length) io.stderr.write(`deep-agent serve: released ${released.length} running task(s) for the next start: ${released.join(', ')}\n`);
    await connections.close();
    await agent.close();
    oauth.close();
    // Released runs are abandoned, not aborted (an abort would record them as cancelled): their open model
    // requests or commands must not hold the process past the grace. Unref'd, so a clean stop exits at once.
    setTimeout(() => process.exit(), 200).unref();
    return 0;
  },
};
