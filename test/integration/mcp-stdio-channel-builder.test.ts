/**
 * The MCP server builder with the E2B provider (on the test double of E2B's control plane, whose commands are
 * real local processes): scaffold -> add a tool -> test_mcp_server -> deploy -> call the deployed tool, now and
 * from a later hub. E2B cannot mount this machine's Node and node_modules, so the builder installs a server's
 * dependencies in the sandbox with the network on; here the install command is swapped for an offline one.
 * Also the connection manager running a connection's server in an E2B sandbox of its own.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { createDeployedServerSpawner, createMcpBuilderTools, loadDeployedServers, McpHub, mcpServerRuntime, SANDBOX_NODE_MODULES, type McpServerRuntime } from '../../lib/mcp/index.js';
import { createE2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import type { Sandbox } from '../../lib/sandbox/types.js';
import type { Tool, ToolContext, ToolOutput } from '../../lib/tools/types.js';
import { CredentialStore, loadSecretKey, openDatabase } from '../../lib/local/index.js';
import { McpConnectionManager, openLocalMcpConnections } from '../../lib/mcp-connections/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';

const textOf = (o: ToolOutput) => o.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');

describe('MCP server builder on the E2B provider (test double)', () => {
  const home = mkdtempSync(join(tmpdir(), 'mcp-builder-e2b-'));
  const local = mcpServerRuntime();
  const offlineInstall = `ln -sfn '${local.hostNodeModules}' node_modules`;
  // What a real E2B run does with `npm install`, done offline: the double's sandbox paths are host paths.
  const runtime: McpServerRuntime = { ...local, remote: { node: local.hostNode, installCommand: offlineInstall } };
  let fake: FakeE2B;
  let provider: ReturnType<typeof createE2BSandboxProvider>;
  let sandbox: Sandbox;
  let hub: McpHub;
  let tools: Tool[];
  const ctx: ToolContext = { taskId: 'build-e2b', sandbox: async () => sandbox, signal: new AbortController().signal, emit: async () => {} };
  const use = async (name: string, input: unknown) => {
    const out = await tools.find((t) => t.name === name)!.execute(input, ctx);
    return { out, text: textOf(out) };
  };

  beforeAll(async () => {
    fake = await FakeE2B.start();
    provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_test0123456789abcdef0123' }), {
      sdk: fake,
      options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
    });
    sandbox = await provider.create({ taskId: 'build-e2b' });
    hub = new McpHub({});
    tools = createMcpBuilderTools({ hub, home, runtime });
  });
  afterAll(async () => {
    await hub?.close();
    await sandbox?.close();
    await fake?.cleanup();
  });

  it('tests a built server by really running it in the E2B sandbox, dependencies installed with the network on', async () => {
    // prepare
    expect(sandbox.wrapSpawn).toBeUndefined();
    await use('scaffold_mcp_server', { name: 'calc', description: 'Small maths' });
    await use('add_mcp_tool_to_server', {
      server: 'calc',
      name: 'multiply',
      description: 'Multiplies two numbers',
      inputSchema: { a: { type: 'number' }, b: { type: 'number' } },
      implementation: 'if (args.a === 13) throw new Error("unlucky");\nreturn { product: args.a * args.b };',
    });
    // act
    const { out, text } = await use('test_mcp_server', {
      server: 'calc',
      calls: [
        { tool: 'multiply', arguments: { a: 6, b: 7 } },
        { tool: 'multiply', arguments: { a: 13, b: 1 } },
      ],
    });
    // assess
    const report = JSON.parse(text);
    expect(report.tools.map((t: { name: string }) => t.name)).toEqual(['multiply']);
    expect(report.calls[0]).toMatchObject({ ok: true, structuredContent: { product: 42 } });
    expect(report.calls[1]).toMatchObject({ ok: false, text: expect.stringContaining('unlucky') });
    expect(out.isError).toBe(true);
    const install = fake.commands.find((c) => c.cmd.includes(offlineInstall));
    expect(install).toMatchObject({ network: true });
    const server = fake.commands.find((c) => c.stdin);
    expect(server).toMatchObject({ network: false, cmd: expect.stringContaining('src/index.ts') });
    // the network went off again once the install ended
    expect(fake.only().allowInternetAccess).toBe(false);
  }, 30_000);

  it('deploys: attached at once over the channel, and a later hub runs it in an E2B sandbox of its own', async () => {
    // act
    const { text } = await use('deploy_mcp_server', { server: 'calc' });
    const now = hub.tools().find((t) => t.name === 'mcp__calc__multiply');
    // assess
    expect(text).toContain('mcp__calc__multiply');
    expect((await now!.execute({ a: 3, b: 5 }, ctx)).structuredContent).toEqual({ product: 15 });

    const spawner = createDeployedServerSpawner(provider, runtime);
    const later = new McpHub({ ...loadDeployedServers(home, runtime), wrapSpawn: spawner.wrapSpawn });
    try {
      const [status] = await later.start();
      expect(status).toMatchObject({ name: 'calc', state: 'connected', source: 'deployed' });
      const multiply = later.tools().find((t) => t.name === 'mcp__calc__multiply')!;
      expect((await multiply.execute({ a: 4, b: 4 }, ctx)).structuredContent).toEqual({ product: 16 });
      expect(fake.sandboxes.size).toBe(2);
    } finally {
      await later.close();
      await spawner.close();
    }
    expect([...fake.sandboxes.values()].filter((s) => s.state === 'running')).toHaveLength(1);
  }, 30_000);

  it('says why when the dependencies cannot be installed', async () => {
    // prepare
    const failing = createMcpBuilderTools({ hub, home, runtime: { ...local, remote: { node: 'node', installCommand: 'echo "npm ERR! network unreachable" >&2; exit 1' } } });
    await sandbox.run('rm -f mcp-servers/calc/node_modules');
    // act
    const err = await failing.find((t) => t.name === 'test_mcp_server')!.execute({ server: 'calc', calls: [] }, ctx).catch((e: unknown) => e);
    // assess
    expect(err).toMatchObject({ code: 'sandbox_error', message: expect.stringContaining('network unreachable') });
  }, 15_000);
});

describe('MCP connection manager on the E2B provider (test double)', () => {
  it('installs a connection whose server runs in an E2B sandbox of its own, calls it, and removes it', async () => {
    // prepare
    const home = mkdtempSync(join(tmpdir(), 'mcp-conn-e2b-'));
    const fake = await FakeE2B.start();
    const db = openDatabase(home);
    const local = mcpServerRuntime();
    const manager = new McpConnectionManager({
      db,
      credentials: new CredentialStore(db, loadSecretKey({ home })),
      sandboxProvider: createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_test0123456789abcdef0123' }), {
        sdk: fake,
        options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
      }),
      // Node and node_modules as the sandbox has them (the double's paths are this machine's).
      runtime: { node: local.hostNode, nodeModules: local.hostNodeModules },
      healthIntervalMs: 0,
    });
    try {
      // act
      const record = await manager.install('acct', { definitionId: 'everything' });
      const echo = manager.toolsFor('acct').find((t) => t.name === 'mcp__everything__echo')!;
      const out = await echo.execute({ message: 'from e2b' }, { taskId: 't', sandbox: () => Promise.reject(new Error('none')), signal: new AbortController().signal, emit: async () => {} });
      // assess
      expect(record).toMatchObject({ status: 'running', tools: expect.arrayContaining(['echo']) });
      expect(textOf(out)).toContain('from e2b');
      expect(fake.commands.find((c) => c.stdin)?.cmd).toContain('server-everything');
      expect(manager.processId('acct', record.id)).toBe(fake.commands.find((c) => c.stdin)?.pid);
      await manager.remove('acct', record.id);
      expect(fake.only().state).toBe('killed');
    } finally {
      await manager.close();
      db.close();
      await fake.cleanup();
    }
  }, 20_000);
  it("serve's connections on an E2B sandbox provider: each server in an E2B sandbox tagged with account and connection", async () => {
    // prepare: what `serve` does with DEEP_AGENT_SANDBOX=e2b, its sandbox provider handed to the connections
    const home = mkdtempSync(join(tmpdir(), 'mcp-conn-e2b-serve-'));
    const fake = await FakeE2B.start();
    const sandboxProvider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_test0123456789abcdef0123' }), {
      sdk: fake,
      options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
    });
    const local = mcpServerRuntime();
    const withTemplatePaths = await openLocalMcpConnections({ home, sandboxProvider, healthIntervalMs: 0 });
    try {
      // act: without a runtime the E2B template's node and modules are named (this double has none there)
      const defaulted = await withTemplatePaths.manager.install('acct', { definitionId: 'everything' });
      // assess
      expect(defaulted.status).toBe('failed');
      expect(fake.commands.find((c) => c.stdin)?.cmd).toContain(`'node' '${SANDBOX_NODE_MODULES}/@modelcontextprotocol/server-everything/dist/index.js'`);
    } finally {
      await withTemplatePaths.close();
    }
    // the double's sandbox paths are this machine's: name them as a template that has them would
    const connections = await openLocalMcpConnections({ home, sandboxProvider, healthIntervalMs: 0, runtime: { node: local.hostNode, nodeModules: local.hostNodeModules } });
    try {
      // act
      const record = await connections.manager.install('acct', { definitionId: 'everything', name: 'ev' });
      const echo = connections.manager.toolsFor('acct').find((t) => t.name === 'mcp__ev__echo')!;
      const out = await echo.execute({ message: 'served from e2b' }, { taskId: 't', sandbox: () => Promise.reject(new Error('none')), signal: new AbortController().signal, emit: async () => {} });
      // assess
      expect(record.status).toBe('running');
      expect(textOf(out)).toContain('served from e2b');
      const running = [...fake.sandboxes.values()].filter((s) => s.state === 'running');
      expect(running).toHaveLength(1);
      expect(running[0]!.metadata).toMatchObject({ accountId: 'acct', connectionId: record.id });
      expect(connections.manager.processId('acct', record.id)).toBe(fake.commands.filter((c) => c.stdin).at(-1)?.pid);
    } finally {
      await connections.close();
      await fake.cleanup();
    }
    expect([...fake.sandboxes.values()].filter((s) => s.state === 'running')).toHaveLength(0);
  }, 30_000);
});
