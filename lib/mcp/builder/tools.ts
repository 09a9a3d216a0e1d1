/**
 * The MCP server builder tools (names fixed by DESIGN): scaffold, add a tool, test by really running the
 * server in the sandbox, deploy to the registry (attached to the running hub at once), and list.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';
import { DeepAgentError, toErrorInfo } from '../../errors/index.js';
import type { Sandbox } from '../../sandbox/index.js';
import { defineTool, type Tool, type ToolContext } from '../../tools/index.js';
import { toToolOutput } from '../connection.js';
import type { McpHub } from '../hub.js';
import { sandboxedStdio, stdioTransport } from '../channel-transport.js';
import { mcpToolName } from '../names.js';
import { claudeConfigEntry, readRegistry, registryDir, type DeployManifest } from './registry.js';
import { mcpServerRuntime, prepareServerRuntime, type McpServerRuntime } from './runtime.js';
import { ENTRY, InputShapeSchema, PROJECT_DIR, SERVER_NAME, TOOL_NAME, scaffoldFiles, toolFile, toolsIndex, type ProjectManifest } from './templates.js';

export interface McpBuilderDeps {
  /** The running hub: a deployed server is attached to it at once. */
  hub: McpHub;
  /** `DEEP_AGENT_HOME`: deployed servers go to `<home>/mcp-servers/<name>/`. */
  home: string;
  /** Node and node_modules as the sandbox sees them. @default mcpServerRuntime() */
  runtime?: McpServerRuntime;
  /** Timeout of one call in `test_mcp_server`. @default 30_000 */
  testCallTimeoutMs?: number;
}

const serverName = z.string().regex(SERVER_NAME, 'server names are lowercase letters, digits, "_" or "-", starting with a letter, at most 40 characters');

async function readProject(sandbox: Sandbox, name: string): Promise<ProjectManifest> {
  try {
    return JSON.parse(await sandbox.readFile(`${PROJECT_DIR(name)}/mcp-server.json`)) as ProjectManifest;
  } catch {
    throw new DeepAgentError('not_found', `no MCP server project "${name}" in the workspace; create it with scaffold_mcp_server`);
  }
}

async function stdioCapable(ctx: ToolContext): Promise<Sandbox> {
  const sandbox = await ctx.sandbox();
  if (!sandbox.wrapSpawn && !sandbox.openStdio) throw new DeepAgentError('sandbox_unavailable', `the ${sandbox.provider} sandbox cannot run stdio MCP servers`);
  return sandbox;
}

/**
 * The five builder tools.
 *
 * @example
 * const tools = [...hub.tools(), ...createMcpBuilderTools({ hub, home: config.home })];
 */
export function createMcpBuilderTools(deps: McpBuilderDeps): Tool[] {
  const runtime = deps.runtime ?? mcpServerRuntime();
  const callTimeout = deps.testCallTimeoutMs ?? 30_000;

  const scaffold = defineTool({
    name: 'scaffold_mcp_server',
    description: `Creates a TypeScript MCP server project (stdio, @modelcontextprotocol/sdk, zod) in the workspace under mcp-servers/<name>/. Add tools with add_mcp_tool_to_server, try it with test_mcp_server, then deploy_mcp_server.`,
    input: z.object({ name: serverName, description: z.string().max(500).optional() }),
    annotations: { readOnlyHint: false, destructiveHint: false },
    async run({ name, description }, ctx) {
      const sandbox = await ctx.sandbox();
      const exists = await sandbox.readFile(`${PROJECT_DIR(name)}/mcp-server.json`).then(() => true, () => false);
      if (exists) throw new DeepAgentError('conflict', `mcp-servers/${name} already exists; add tools to it or pick another name`);
      const manifest: ProjectManifest = { name, description: description ?? `MCP server ${name}`, tools: [] };
      const files = scaffoldFiles(manifest);
      for (const [path, content] of Object.entries(files)) await sandbox.writeFile(`${PROJECT_DIR(name)}/${path}`, content);
      return `Created ${PROJECT_DIR(name)}/ with ${Object.keys(files).join(', ')}. Entry: ${ENTRY} (Node runs TypeScript directly; imports of local files end in .ts). Next: add_mcp_tool_to_server.`;
    },
  });

  const addTool = defineTool({
    name: 'add_mcp_tool_to_server',
    description:
      'Adds a tool to a scaffolded MCP server. inputSchema maps each argument to { type: string|number|integer|boolean, description?, optional? }. implementation is the body of `async function run(args)`: TypeScript using `args` (typed from inputSchema) that returns a string or a JSON object; fetch is available (network needs network: true when testing/deploying); throw to report an error.',
    input: z.object({
      server: serverName,
      name: z.string().regex(TOOL_NAME, 'tool names are letters, digits, "_" or "-", starting with a letter, at most 48 characters'),
      description: z.string().min(1).max(1000),
      inputSchema: InputShapeSchema.default({}),
      implementation: z.string().min(1).max(20_000),
    }),
    annotations: { readOnlyHint: false, destructiveHint: false },
    async run({ server, name, description, inputSchema, implementation }, ctx) {
      const sandbox = await ctx.sandbox();
      const project = await readProject(sandbox, server);
      const dir = PROJECT_DIR(server);
      const replaced = project.tools.some((t) => t.name === name);
      project.tools = [...project.tools.filter((t) => t.name !== name), { name, description, inputSchema }];
      await sandbox.writeFile(`${dir}/src/tools/${name}.ts`, toolFile({ name, description, inputSchema, implementation }));
      await sandbox.writeFile(`${dir}/src/tools/index.ts`, toolsIndex(project));
      await sandbox.writeFile(`${dir}/mcp-server.json`, `${JSON.stringify(project, null, 2)}\n`);
      return `${replaced ? 'Replaced' : 'Added'} tool ${name} in ${dir}/src/tools/${name}.ts; the server now has: ${project.tools.map((t) => t.name).join(', ')}. Run test_mcp_server to try it.`;
    },
  });

  const test = defineTool({
    name: 'test_mcp_server',
    description:
      'Starts the MCP server inside the sandbox, connects an MCP client over stdio, lists its tools and calls each given tool with the given arguments. Returns the tool list and every result or error (a real run). In an E2B sandbox the project\'s dependencies are first installed with npm (network on for the install only).',
    input: z.object({
      server: serverName,
      calls: z.array(z.object({ tool: z.string(), arguments: z.record(z.string(), z.unknown()).default({}) })).max(20).default([]),
      network: z.boolean().default(false).describe('let the server reach the network'),
    }),
    annotations: { readOnlyHint: true },
    async run({ server, calls, network }, ctx) {
      const sandbox = await stdioCapable(ctx);
      await readProject(sandbox, server);
      const dir = PROJECT_DIR(server);
      const { node } = await prepareServerRuntime(sandbox, dir, runtime);
      let stderr = '';
      const transport = await stdioTransport(sandboxedStdio(sandbox, { command: node, args: [ENTRY], cwd: dir, env: {}, network }), {
        onStderr: (d) => {
          stderr = (stderr + d).slice(-3000);
        },
      });
      // Loaded on use, so that attaching the builder tools does not load the MCP client.
      const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
      const client = new Client({ name: 'deep-agent-builder-test', version: '0.1.0' });
      try {
        try {
          await client.connect(transport, { timeout: 20_000 });
        } catch (e) {
          throw new DeepAgentError('mcp_error', `server ${server} did not start: ${toErrorInfo(e).message}${stderr.trim() ? `\nstderr:\n${stderr.trim()}` : ''}`);
        }
        const { tools } = await client.listTools(undefined, { timeout: callTimeout });
        const results: Record<string, unknown>[] = [];
        let failures = 0;
        for (const c of calls) {
          try {
            const res = (await client.callTool({ name: c.tool, arguments: c.arguments }, undefined, { timeout: callTimeout, signal: ctx.signal })) as CallToolResult;
            const out = toToolOutput(res);
            if (out.isError) failures++;
            results.push({
              tool: c.tool,
              arguments: c.arguments,
              ok: !out.isError,
              text: out.content.map((x) => (x.type === 'text' ? x.text : `[${x.type}]`)).join('\n'),
              ...(out.structuredContent !== undefined ? { structuredContent: out.structuredContent } : {}),
            });
          } catch (e) {
            failures++;
            results.push({ tool: c.tool, arguments: c.arguments, ok: false, error: toErrorInfo(e).message });
          }
        }
        const report = {
          server,
          started: true,
          tools: tools.map((t) => ({ name: t.name, description: t.description })),
          calls: results,
          ...(failures && stderr.trim() ? { stderr: stderr.trim() } : {}),
        };
        return { content: [{ type: 'text' as const, text: JSON.stringify(report, null, 2) }], ...(failures ? { isError: true } : {}) };
      } finally {
        await client.close().catch(() => {});
      }
    },
  });

  const deploy = defineTool({
    name: 'deploy_mcp_server',
    description:
      'Deploys a built MCP server: copies it to the registry under DEEP_AGENT_HOME/mcp-servers/<name>/, attaches it to this task at once (its tools become mcp__<name>__<tool>) and to later tasks, and prints a .mcp.json entry for Claude Code or Claude Desktop.',
    input: z.object({ server: serverName, network: z.boolean().default(false).describe('let the server reach the network when it runs') }),
    annotations: { readOnlyHint: false, destructiveHint: false },
    async run({ server, network }, ctx) {
      const sandbox = await stdioCapable(ctx);
      const project = await readProject(sandbox, server);
      const dir = PROJECT_DIR(server);
      const target = join(registryDir(deps.home), server);
      await rm(target, { recursive: true, force: true });
      const entries = await sandbox.listFiles(dir);
      for (const f of entries) {
        const rel = f.path.slice(dir.length + 1);
        if (f.type !== 'file' || rel.startsWith('node_modules')) continue;
        await mkdir(dirname(join(target, rel)), { recursive: true });
        await writeFile(join(target, rel), await sandbox.readFileBytes(f.path));
      }
      // On the host the server resolves the SDK through this link (Claude Code runs it there).
      await symlink(runtime.hostNodeModules, join(target, 'node_modules'), 'dir');
      const manifest: DeployManifest = {
        name: server,
        description: project.description,
        entry: ENTRY,
        tools: project.tools.map((t) => ({ name: t.name, description: t.description })),
        network,
        deployedAt: new Date().toISOString(),
      };
      await writeFile(join(target, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      const { node } = await prepareServerRuntime(sandbox, dir, runtime);
      // This task runs it from its own sandbox's copy; later tasks from the registry (see loadDeployedServers).
      const status = await deps.hub.addServer(
        server,
        { transport: 'stdio', command: node, args: [ENTRY], env: {}, cwd: dir, sandboxed: true, network, source: 'deployed' },
        { wrapSpawn: (spec) => sandboxedStdio(sandbox, spec) },
      );
      const attached = status.state === 'connected'
        ? `Attached now: ${status.tools.map((t) => mcpToolName(server, t)).join(', ')} (callable from your next turn).`
        : `Registered, but attaching failed: ${status.reason}`;
      return [
        `Deployed ${server} to ${target}.`,
        attached,
        'Later tasks load it from the registry.',
        'For Claude Code (.mcp.json) or Claude Desktop (runs on the host, unsandboxed):',
        JSON.stringify(claudeConfigEntry(deps.home, manifest, runtime), null, 2),
      ].join('\n');
    },
  });

  const list = defineTool({
    name: 'list_mcp_servers',
    description: 'Lists MCP server projects built in the workspace, deployed servers, and every attached server with its tools and status.',
    input: z.object({}),
    annotations: { readOnlyHint: true },
    async run(_input, ctx) {
      const sandbox = await ctx.sandbox();
      const built: { name: string; description: string; tools: string[] }[] = [];
      const entries = await sandbox.listFiles('mcp-servers').catch(() => []);
      for (const f of entries.filter((e) => /^mcp-servers\/[^/]+\/mcp-server\.json$/.test(e.path))) {
        const p = JSON.parse(await sandbox.readFile(f.path)) as ProjectManifest;
        built.push({ name: p.name, description: p.description, tools: p.tools.map((t) => t.name) });
      }
      const { manifests, disabled } = readRegistry(deps.home);
      const status = deps.hub.status();
      return JSON.stringify(
        {
          built,
          deployed: manifests.map((m) => ({ name: m.name, tools: m.tools.map((t) => t.name), network: m.network, deployedAt: m.deployedAt })),
          brokenDeployments: disabled,
          attached: status.map((s) => ({ name: s.name, state: s.state, ...(s.reason ? { reason: s.reason } : {}), tools: s.tools.map((t) => mcpToolName(s.name, t)) })),
        },
        null,
        2,
      );
    },
  });

  return [scaffold, addTool, test, deploy, list];
}
