/** `deep-agent mcp list|tools`: which MCP servers are attached (and why the others are not), and their tools. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/index.js';
import { attachMcp, describePresets, mcpServerRuntime } from '../../mcp/index.js';
import { createSandboxProvider } from '../../sandbox/index.js';
import { UsageError, type CliIo, type Command } from '../io.js';

async function withMcp<T>(io: CliIo, fn: (mcp: Awaited<ReturnType<typeof attachMcp>>, config: ReturnType<typeof loadConfig>) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env, io.cwd);
  const runtime = mcpServerRuntime();
  const sandboxProvider = await createSandboxProvider(config, { readOnlyMounts: runtime.mounts });
  const mcp = await attachMcp(config, { sandboxProvider, runtime });
  try {
    return await fn(mcp, config);
  } finally {
    await mcp.close();
  }
}

export const mcpCommand: Command = {
  name: 'mcp',
  summary: 'MCP servers (attached or not, and why) and their tools',
  usage: `deep-agent mcp list [--json]
deep-agent mcp tools [--server NAME] [--json]

Servers come from DEEP_AGENT_MCP_CONFIG (default ./.mcp.json), the GitHub and Notion presets (attached when
GITHUB_TOKEN / NOTION_TOKEN are set), and servers the agent built and deployed (DEEP_AGENT_HOME/mcp-servers).`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, server: { type: 'string' } } });
    const sub = positionals[0];
    if (sub !== 'list' && sub !== 'tools') throw new UsageError('mcp takes list or tools, e.g. deep-agent mcp list');
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
