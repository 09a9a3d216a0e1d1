import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import type { Sandbox } from '../../lib/sandbox/types.js';
import { createDeployedServerSpawner, createMcpBuilderTools, loadDeployedServers, McpHub, mcpServerRuntime } from '../../lib/mcp/index.js';
import type { Tool, ToolContext, ToolOutput } from '../../lib/tools/types.js';

const run = promisify(execFile);
const textOf = (o: ToolOutput) => o.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');

describe('MCP server builder (bubblewrap)', () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-builder-'));
  const runtime = mcpServerRuntime();
  const provider = new BubblewrapSandboxProvider({ home, readOnlyMounts: runtime.mounts });
  let sandbox: Sandbox;
  let hub: McpHub;
  let tools: Tool[];
  const ctx: ToolContext = { taskId: 'build-1', sandbox: async () => sandbox, signal: new AbortController().signal, emit: async () => {} };
  const use = async (name: string, input: unknown) => {
    const out = await tools.find((t) => t.name === name)!.execute(input, ctx);
    return { out, text: textOf(out) };
  };

  beforeAll(async () => {
    sandbox = await provider.create({ taskId: 'build-1' });
    hub = new McpHub({});
    tools = createMcpBuilderTools({ hub, home, runtime });
  });
  afterAll(async () => {
    await hub?.close();
    await sandbox?.close();
  });

  it('scaffolds, adds two tools, and tests the server by really running it in the sandbox', async () => {
    expect((await use('scaffold_mcp_server', { name: 'calc', description: 'Small maths' })).text).toContain('mcp-servers/calc/');
    await use('add_mcp_tool_to_server', {
      server: 'calc',
      name: 'multiply',
      description: 'Multiplies two numbers',
      inputSchema: { a: { type: 'number' }, b: { type: 'number', description: 'second factor' } },
      implementation: 'return { product: args.a * args.b };',
    });
    await use('add_mcp_tool_to_server', {
      server: 'calc',
      name: 'shout',
      description: 'Upper-cases text',
      inputSchema: { text: { type: 'string' }, times: { type: 'integer', optional: true } },
      implementation: 'const t: string = args.text.toUpperCase();\nif (t === "BOOM") throw new Error("no booms");\nreturn t.repeat(args.times ?? 1);',
    });
    const { out, text } = await use('test_mcp_server', {
      server: 'calc',
      calls: [
        { tool: 'multiply', arguments: { a: 6, b: 7 } },
        { tool: 'shout', arguments: { text: 'hi', times: 2 } },
        { tool: 'shout', arguments: { text: 'boom' } },
      ],
    });
    const report = JSON.parse(text);
    expect(report.tools.map((t: { name: string }) => t.name).sort()).toEqual(['multiply', 'shout']);
    expect(report.calls[0]).toMatchObject({ ok: true, structuredContent: { product: 42 } });
    expect(report.calls[1]).toMatchObject({ ok: true, text: 'HIHI' });
    expect(report.calls[2]).toMatchObject({ ok: false, text: expect.stringContaining('no booms') });
    expect(out.isError).toBe(true);
  }, 30_000);

  it('deploys: attached to the running hub at once, and a new hub loading the registry calls it', async () => {
    const { text } = await use('deploy_mcp_server', { server: 'calc' });
    expect(text).toContain('mcp__calc__multiply');
    expect(text).toContain('"mcpServers"');
    const now = hub.tools().find((t) => t.name === 'mcp__calc__multiply')!;
    expect((await now.execute({ a: 3, b: 5 }, ctx)).structuredContent).toEqual({ product: 15 });

    // A later process: a fresh hub from the registry, each deployed server in a sandbox of its own.
    const spawner = createDeployedServerSpawner(provider, runtime);
    const later = new McpHub({ ...loadDeployedServers(home, runtime), wrapSpawn: spawner.wrapSpawn });
    try {
      const [status] = await later.start();
      expect(status).toMatchObject({ name: 'calc', state: 'connected', source: 'deployed' });
      const shout = later.tools().find((t) => t.name === 'mcp__calc__shout')!;
      expect(textOf(await shout.execute({ text: 'later' }, ctx))).toBe('LATER');
      const listed = JSON.parse((await use('list_mcp_servers', {})).text);
      expect(listed.built[0]).toMatchObject({ name: 'calc', tools: ['multiply', 'shout'] });
      expect(listed.deployed[0]).toMatchObject({ name: 'calc' });
      expect(listed.attached[0]).toMatchObject({ name: 'calc', state: 'connected' });
    } finally {
      await later.close();
      await spawner.close();
    }
  }, 30_000);

  it('the deployed server passes the MCP inspector CLI (tools/list)', async () => {
    const entry = join(home, 'mcp-servers', 'calc', 'src', 'index.ts');
    const { stdout } = await run('npx', ['--no-install', '@modelcontextprotocol/inspector', '--cli', runtime.hostNode, entry, '--method', 'tools/list'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 30_000,
    });
    const names = (JSON.parse(stdout) as { tools: { name: string }[] }).tools.map((t) => t.name).sort();
    expect(names).toEqual(['multiply', 'shout']);
  }, 40_000);
});
