/**
 * Stdio MCP servers over `Sandbox.openStdio` and `ChannelClientTransport`: the same code path on bubblewrap and
 * on E2B (the test double of E2B's control plane, whose commands are real local processes), against the real
 * server-everything: echo works, a killed server is a transport close, and the hub reconnects once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadConfig } from '../../lib/config/index.js';
import { ChannelClientTransport, McpHub, mcpServerRuntime, sandboxedStdio, type SandboxedStdio } from '../../lib/mcp/index.js';
import { createE2BSandboxProvider } from '../../lib/sandbox/e2b/index.js';
import { BubblewrapSandboxProvider } from '../../lib/sandbox/index.js';
import type { Sandbox, SpawnSpec, StdioChannel } from '../../lib/sandbox/types.js';
import type { ToolContext, ToolOutput } from '../../lib/tools/types.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { EVERYTHING_BIN } from '../helpers/mcp-servers.js';
import { alive, until } from '../helpers/wait.js';

const textOf = (o: ToolOutput) => o.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
const ctx: ToolContext = { taskId: 't', sandbox: () => Promise.reject(new Error('none')), signal: new AbortController().signal, emit: async () => {} };

interface Setup {
  sandbox: Sandbox;
  /** server-everything as the sandbox sees it */
  everything: Omit<SpawnSpec, 'network'>;
  /** kills the server from outside (a crash), given its channel */
  crash(channel: StdioChannel): void;
  /** How this provider must run a stdio server: spawned here through wrapSpawn, or over openStdio. */
  expectedStdio: SandboxedStdio['kind'];
  close(): Promise<void>;
}

const runtime = mcpServerRuntime();

async function onBubblewrap(): Promise<Setup> {
  const home = mkdtempSync(join(tmpdir(), 'stdio-channel-'));
  const sandbox = await new BubblewrapSandboxProvider({ home, readOnlyMounts: runtime.mounts, removeWorkspace: true }).create({ taskId: 'chan' });
  return {
    sandbox,
    everything: { command: runtime.node, args: [`${runtime.nodeModules}/@modelcontextprotocol/server-everything/dist/index.js`, 'stdio'] },
    // The pid is bwrap's on this host; --die-with-parent takes the server with it.
    crash: (channel) => process.kill(channel.pid!, 'SIGKILL'),
    expectedStdio: 'command',
    close: () => sandbox.close(),
  };
}

async function onFakeE2B(): Promise<Setup> {
  const fake = await FakeE2B.start();
  const provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_test0123456789abcdef0123' }), {
    sdk: fake,
    options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
  });
  const sandbox = await provider.create({ taskId: 'chan' });
  return {
    sandbox,
    everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] },
    // The double's pid is the server's own (the command execs), as E2B's is inside the VM.
    crash: (channel) => process.kill(channel.pid!, 'SIGKILL'),
    expectedStdio: 'channel',
    close: async () => {
      await sandbox.close();
      await fake.cleanup();
    },
  };
}

describe.each([
  ['bubblewrap', onBubblewrap],
  ['E2B (test double)', onFakeE2B],
] as const)('stdio MCP over Sandbox.openStdio on %s', (_name, setup) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(() => s?.close());

  it('a channel carries raw stdio in order, stderr apart, and reports the exit code', async () => {
    // prepare
    const channel = await s.sandbox.openStdio!({ command: '/bin/sh', args: ['-c', 'echo ready; echo oops >&2; while read l; do echo "got:$l"; [ "$l" = bye ] && exit 3; done'] });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => channel.onExit(r));
    // act
    channel.onData((d) => (out += d));
    channel.onStderr((d) => (err += d));
    for (const line of ['one', 'two', 'three', 'bye']) await channel.write(`${line}\n`);
    const code = await exited;
    // assess
    expect(out).toBe('ready\ngot:one\ngot:two\ngot:three\ngot:bye\n');
    expect(err).toBe('oops\n');
    expect(code).toBe(3);
    await expect(channel.write('late\n')).rejects.toMatchObject({ code: 'sandbox_error' });
  });

  it('an MCP client over ChannelClientTransport calls echo; a killed server surfaces as a transport close', async () => {
    // prepare
    let channel: StdioChannel | undefined;
    const transport = new ChannelClientTransport(async () => (channel = await s.sandbox.openStdio!(s.everything)));
    const client = new Client({ name: 'channel-test', version: '0.0.0' });
    const closed = new Promise<void>((r) => (client.onclose = r));
    try {
      // act
      await client.connect(transport, { timeout: 15_000 });
      const echoed = await client.callTool({ name: 'echo', arguments: { message: 'through the channel' } });
      const [a, b] = await Promise.all([
        client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } }),
        client.callTool({ name: 'echo', arguments: { message: 'x'.repeat(100_000) } }),
      ]);
      // assess
      expect(JSON.stringify(echoed.content)).toContain('through the channel');
      expect(JSON.stringify(a.content)).toContain('42');
      expect(JSON.stringify(b.content)).toContain('x'.repeat(100_000));
      expect(transport.pid).toBe(channel!.pid);
      s.crash(channel!);
      await closed;
      await expect(client.callTool({ name: 'echo', arguments: { message: 'dead' } })).rejects.toThrow();
    } finally {
      await client.close();
    }
  }, 20_000);

  it("the hub runs a sandboxed server through the channel and reconnects once after it is killed", async () => {
    // prepare
    const channels: StdioChannel[] = [];
    const viaChannel = (spec: SpawnSpec): SandboxedStdio => ({
      kind: 'channel',
      open: async () => {
        const c = await s.sandbox.openStdio!(spec);
        channels.push(c);
        return c;
      },
    });
    const hub = new McpHub({ servers: { everything: { transport: 'stdio', ...s.everything, env: {}, sandboxed: true } }, wrapSpawn: viaChannel });
    try {
      await hub.start();
      expect(hub.status()[0]).toMatchObject({ state: 'connected', transport: 'stdio' });
      const echo = hub.tools().find((t) => t.name === 'mcp__everything__echo')!;
      expect(textOf(await echo.execute({ message: 'first' }, ctx))).toContain('first');
      // act
      const crashed = channels[0]!.pid!;
      s.crash(channels[0]!);
      await until(async () => alive(crashed), (up) => !up);
      const after = await echo.execute({ message: 'after crash' }, ctx);
      // assess
      expect(textOf(after)).toContain('after crash');
      expect(channels).toHaveLength(2);
    } finally {
      await hub.close();
    }
    // closing the hub closes the channel: the server is gone
    await until(async () => alive(channels[1]!.pid!), (up) => !up);
  }, 20_000);

  it('sandboxedStdio spawns through wrapSpawn on bubblewrap and opens a channel on E2B', () => {
    const how = sandboxedStdio(s.sandbox, s.everything);
    expect(how.kind).toBe(s.expectedStdio);
  });
});
