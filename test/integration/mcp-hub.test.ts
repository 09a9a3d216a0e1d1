import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { McpHub, type McpServerSpec, type McpTool } from '../../lib/mcp/index.js';
import { hasCode } from '../../lib/errors/index.js';
import type { ToolContext, ToolOutput } from '../../lib/tools/types.js';
import { alive, until } from '../helpers/wait.js';
import { ENV_SERVER, everythingStdio, startEverythingHttp, type RunningHttpServer } from '../helpers/mcp-servers.js';

const ctx = (): ToolContext => ({
  taskId: 't-1',
  sandbox: () => Promise.reject(new Error('no sandbox in this test')),
  signal: new AbortController().signal,
  emit: async () => {},
});
const textOf = (o: ToolOutput) => o.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
const call = (tools: McpTool[], name: string, input: unknown) => {
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name} in ${tools.map((t) => t.name).join(', ')}`);
  return tool.execute(input, ctx());
};
/** Child processes of this process whose command line contains `needle`. */
const childPids = (needle: string): number[] =>
  execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(needle))
    .map((l) => Number(l.trim().split(/\s+/)[0]));

describe('McpHub over stdio (server-everything)', () => {
  let hub: McpHub;
  beforeAll(async () => {
    hub = new McpHub({ servers: { everything: everythingStdio() }, env: process.env });
    await hub.start();
  });
  afterAll(() => hub.close());

  it('lists the tools as mcp__everything__* with their annotations', () => {
    const tools = hub.tools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('mcp__everything__echo');
    expect(names).toContain('mcp__everything__get-sum');
    expect(tools.find((t) => t.name === 'mcp__everything__get-sum')?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(hub.status()).toEqual([expect.objectContaining({ name: 'everything', state: 'connected', transport: 'stdio' })]);
  });

  it('calls echo and get-sum', async () => {
    expect(textOf(await call(hub.tools(), 'mcp__everything__echo', { message: 'hello hub' }))).toContain('hello hub');
    expect(textOf(await call(hub.tools(), 'mcp__everything__get-sum', { a: 2, b: 40 }))).toContain('42');
  });

  it('passes structured content and images through', async () => {
    const structured = await call(hub.tools(), 'mcp__everything__get-structured-content', { location: 'Chicago' });
    expect(structured.structuredContent).toEqual({ temperature: 36, conditions: 'Light rain / drizzle', humidity: 82 });
    const image = await call(hub.tools(), 'mcp__everything__get-tiny-image', {});
    expect(image.content).toContainEqual(expect.objectContaining({ type: 'image', mimeType: 'image/png', data: expect.stringMatching(/^iVBOR/) }));
  });

  it('reconnects once when the server process is killed mid-session', async () => {
    const [pid] = childPids('server-everything');
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    await until(async () => alive(pid!), (up) => !up);
    expect(textOf(await call(hub.tools(), 'mcp__everything__echo', { message: 'after crash' }))).toContain('after crash');
    expect(childPids('server-everything')).not.toContain(pid);
  });

  it('reports a server-side tool error as an error result, not a crash', async () => {
    const out = await call(hub.tools(), 'mcp__everything__get-sum', { a: 'x' }).catch((e: unknown) => e);
    // The SDK's server answers invalid arguments with isError (newer) or a protocol error (older).
    if (hasCode(out, 'mcp_error')) expect((out as Error).message).toMatch(/get-sum/);
    else expect((out as ToolOutput).isError).toBe(true);
  });
});

describe('McpHub over streamable HTTP (server-everything)', () => {
  let server: RunningHttpServer;
  let hub: McpHub;
  beforeAll(async () => {
    server = await startEverythingHttp();
    hub = new McpHub({ servers: { web: server.spec }, callTimeoutMs: 5_000 });
    await hub.start();
  });
  afterAll(async () => {
    await hub.close();
    await server.stop();
  });

  it('calls echo and get-sum over streamable HTTP', async () => {
    expect(hub.status()[0]).toMatchObject({ state: 'connected', transport: 'http' });
    expect(textOf(await call(hub.tools(), 'mcp__web__echo', { message: 'over http' }))).toContain('over http');
    expect(textOf(await call(hub.tools(), 'mcp__web__get-sum', { a: 1, b: 2 }))).toContain('3');
    const structured = await call(hub.tools(), 'mcp__web__get-structured-content', { location: 'New York' });
    expect(structured.structuredContent).toMatchObject({ temperature: 33 });
  });

  it('gives a clear mcp_error while the server is down, and works again once it is back', async () => {
    const tools = hub.tools(); // the tool list a running task holds
    await server.stop();
    const err = await call(tools, 'mcp__web__echo', { message: 'x' }).catch((e: unknown) => e);
    expect(hasCode(err, 'mcp_error')).toBe(true);
    expect((err as Error).message).toMatch(/web/);
    expect(hub.status()[0]).toMatchObject({ state: 'failed' });
    server = await startEverythingHttp(server.port);
    expect(textOf(await call(tools, 'mcp__web__echo', { message: 'back' }))).toContain('back');
    expect(hub.status()[0]).toMatchObject({ state: 'connected' });
  });
});

describe('McpHub against an old SSE-only server', () => {
  it('falls back from streamable HTTP to SSE', async () => {
    const server = await startEverythingHttp(undefined, 'sse');
    const hub = new McpHub({ servers: { old: server.spec } });
    try {
      await hub.start();
      expect(hub.status()[0]).toMatchObject({ state: 'connected', transport: 'sse' });
      expect(textOf(await call(hub.tools(), 'mcp__old__echo', { message: 'via sse' }))).toContain('via sse');
    } finally {
      await hub.close();
      await server.stop();
    }
  });
});

describe('McpHub with several servers', () => {
  let hub: McpHub | undefined;
  afterEach(async () => hub?.close());

  it('keeps two servers with the same tool names apart, and a broken server does not stop the others', async () => {
    hub = new McpHub({
      servers: {
        a: everythingStdio(),
        b: everythingStdio(),
        broken: { transport: 'stdio', command: '/nonexistent/mcp-server', args: [], env: {} },
      },
      disabled: { github: 'GITHUB_TOKEN is not set' },
    });
    const status = await hub.start();
    expect(status.find((s) => s.name === 'broken')).toMatchObject({ state: 'failed', reason: expect.stringContaining('command not found') });
    expect(status.find((s) => s.name === 'github')).toMatchObject({ state: 'disabled', reason: 'GITHUB_TOKEN is not set' });
    const tools = hub.tools();
    expect(textOf(await call(tools, 'mcp__a__echo', { message: 'from a' }))).toContain('from a');
    expect(textOf(await call(tools, 'mcp__b__echo', { message: 'from b' }))).toContain('from b');
    expect(hub.tools({ servers: ['b'] }).every((t) => t.server === 'b')).toBe(true);
    expect(() => hub!.tools({ servers: ['nope'] })).toThrow(/unknown MCP server "nope"/);
    const err = await hub.callTool('broken', 'x', {}).catch((e: unknown) => e);
    expect(hasCode(err, 'mcp_error')).toBe(true);
  });

  it('gives a stdio server only the environment it declares, never the agent secrets', async () => {
    const env = { ...process.env, CANARY_SECRET: 'canary-7f3a9c1d', ANTHROPIC_API_KEY: 'sk-ant-canary-0000000000' };
    hub = new McpHub({ servers: { envy: { transport: 'stdio', command: process.execPath, args: [ENV_SERVER], env: { DECLARED: 'yes' } } }, env });
    await hub.start();
    const seen = JSON.parse(textOf(await call(hub.tools(), 'mcp__envy__report_env', {}))) as Record<string, string>;
    expect(seen.DECLARED).toBe('yes');
    expect(seen.PATH).toBeTruthy();
    expect(JSON.stringify(seen)).not.toContain('canary-7f3a9c1d');
    expect(seen.ANTHROPIC_API_KEY).toBeUndefined();
  });
});

describe('McpHub with results past the stdio message limit', () => {
  const LARGE_RESULT_SERVER = fileURLToPath(new URL('../helpers/mcp-large-result-server.ts', import.meta.url));
  const largeResult = (): McpServerSpec => ({ transport: 'stdio', command: process.execPath, args: ['--import', 'tsx', LARGE_RESULT_SERVER], env: {} });

  it('reads a 12 MB result (past the SDK default of 10 MB) instead of reporting the connection lost', async () => {
    await using hub = new McpHub({ servers: { big: largeResult() }, env: process.env });
    await hub.start();
    const out = await hub.callTool('big', 'large_text', { chars: 12_000_000 });
    expect(textOf(out)).toHaveLength(12_000_000);
  });

  it('names the limit when a result is larger than it, does not retry, and the next call works', async () => {
    await using hub = new McpHub({ servers: { big: largeResult() }, env: process.env, maxMessageBytes: 1024 * 1024 });
    await hub.start();
    const error = await hub.callTool('big', 'large_text', { chars: 2_000_000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'mcp_error', message: expect.stringContaining('more than 1 MB') });
    expect((error as Error).message).not.toMatch(/lost/);
    expect(textOf(await hub.callTool('big', 'large_text', { chars: 10 }))).toBe('x'.repeat(10));
  });
});
