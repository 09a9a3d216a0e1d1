/**
 * Presets routed through E2B's MCP gateway: the gateway sandbox is created on a double of E2B's control plane
 * (its cloud cannot be reached), and its MCP endpoint is a real server-everything over streamable HTTP, so the
 * hub's connection, the bearer token and the tool calls are real.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { attachMcp, describePresets, mcpServerRuntime, type AttachedMcp } from '../../lib/mcp/index.js';
import { UnsafeLocalSandboxProvider } from '../../lib/sandbox/index.js';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import type { ContentBlock, ModelRequest, ModelResponse } from '../../lib/model/types.js';
import { emptyUsage, MemoryTaskStore, newTaskRecord } from '../../lib/task/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { startEverythingHttp, type RunningHttpServer } from '../helpers/mcp-servers.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let fake: FakeE2B | undefined;
let everything: RunningHttpServer | undefined;
let mcp: AttachedMcp | undefined;
let proxy: ReturnType<typeof createServer> | undefined;
afterEach(async () => {
  await mcp?.close();
  await everything?.stop();
  await fake?.cleanup();
  proxy?.close();
  mcp = everything = fake = proxy = undefined;
});

/** A pass-through in front of the MCP server that records the Authorization headers it sees. */
async function recordingProxy(target: string, seen: string[]): Promise<string> {
  const t = new URL(target);
  proxy = createServer((req, res) => {
    seen.push(String(req.headers.authorization ?? ''));
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${t.pathname}`;
}

describe("presets through E2B's MCP gateway", () => {
  it('creates nothing when attached; a local run (MemoryJournal, as `run`) gets a gateway of its own, with its bearer token, and kills it at its end', async () => {
    // prepare
    fake = await FakeE2B.start();
    everything = await startEverythingHttp();
    const seen: string[] = [];
    fake.mcpGatewayUrl = await recordingProxy(everything.spec.url, seen);
    const config = loadConfig({ GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', E2B_API_KEY: 'e2b_test0123456789abcdef0123', DEEP_AGENT_GITHUB_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });
    const sandboxProvider = new UnsafeLocalSandboxProvider({ home: config.home });
    mcp = await attachMcp(config, { sandboxProvider, runtime: mcpServerRuntime(), e2bSdk: fake });
    const atAttach = mcp.status();
    const createdAtAttach = fake.callsOf('create').length;
    const store = new MemoryTaskStore();
    await store.create(newTaskRecord({ id: 'local-1', prompt: 'use the gateway', source: 'cli' }));
    const model = {
      provider: 'anthropic' as const,
      model: 'scripted',
      offered: [] as string[][],
      async createMessage(request: ModelRequest): Promise<ModelResponse> {
        this.offered.push(request.tools.map((t) => t.name));
        const first = request.messages.length === 1;
        const content: ContentBlock[] = first
          ? [{ type: 'tool_use', id: 'toolu_1', name: 'mcp__e2b__echo', input: { message: 'through the gateway' } } as ContentBlock]
          : [{ type: 'text', text: 'done' } as ContentBlock];
        return { content, stopReason: first ? 'tool_use' : 'end_turn', usage: emptyUsage(), model: 'scripted' };
      },
    };
    // act
    const record = await runTask({ taskId: 'local-1', store, model, sandboxProvider, journal: new MemoryJournal(), ...mcp.taskOptions() });
    const results = (await store.listEvents('local-1')).filter((e) => e.type === 'tool.result');
    // assess
    expect(atAttach.find((s) => s.name === 'e2b')).toMatchObject({ state: 'connecting', source: 'e2b-gateway' });
    expect(atAttach.find((s) => s.name === 'github')).toMatchObject({ state: 'disabled', reason: expect.stringContaining("E2B's MCP gateway") });
    expect(createdAtAttach).toBe(0);
    expect(record.status).toBe('succeeded');
    const created = fake.callsOf('create')[0]!.args as { mcp?: Record<string, unknown>; metadata?: Record<string, string> };
    expect(fake.callsOf('create')).toHaveLength(1);
    expect(Object.keys(created.mcp ?? {})).toEqual(['githubOfficial']);
    expect(created.metadata).toEqual({ purpose: 'mcp-gateway', taskId: 'local-1' });
    expect(record.resourceSandboxIds).toEqual({ 'mcp-gateway': fake.only().id });
    const token = fake.only().mcpToken!;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((h) => h === `Bearer ${token}`)).toBe(true);
    expect(model.offered[0]).toContain('mcp__e2b__echo');
    expect(results.map((e) => [e.data.name, e.data.ok])).toEqual([['mcp__e2b__echo', true]]);
    expect(JSON.stringify(results)).toContain('through the gateway');
    expect(JSON.stringify(await store.listEvents('local-1'))).not.toContain(token);
    expect(fake.only().state).toBe('killed');
    expect(describePresets(config)[0]).toMatchObject({ name: 'github', viaE2BGateway: true });
  });

  it('a gateway that cannot start leaves the task going, with a note for the model', async () => {
    // prepare: E2B refuses the create (its error is a plain one, not a rate limit)
    fake = await FakeE2B.start();
    fake.failNext('create', new Error('E2B is down'));
    const config = loadConfig({ NOTION_TOKEN: 'ntn_testtoken0123456789abcdefghij', E2B_API_KEY: 'e2b_test0123456789abcdef0123', DEEP_AGENT_NOTION_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });
    const sandboxProvider = new UnsafeLocalSandboxProvider({ home: config.home });
    mcp = await attachMcp(config, { sandboxProvider, e2bSdk: fake });
    const store = new MemoryTaskStore();
    await store.create(newTaskRecord({ id: 'local-2', prompt: 'p', source: 'cli', mcpServers: ['notion'] }));
    let system = '';
    const model = {
      provider: 'anthropic' as const,
      model: 'scripted',
      async createMessage(request: ModelRequest): Promise<ModelResponse> {
        system = request.system ?? '';
        return { content: [{ type: 'text', text: 'done' } as ContentBlock], stopReason: 'end_turn', usage: emptyUsage(), model: 'scripted' };
      },
    };
    // act
    const record = await runTask({ taskId: 'local-2', store, model, sandboxProvider, journal: new MemoryJournal(), ...mcp.taskOptions(['notion']) });
    // assess: selecting the routed preset by its own name asked for the gateway
    expect(fake.callsOf('create')).toHaveLength(1);
    expect(record.status).toBe('succeeded');
    expect(system).toContain('mcp-gateway could not start');
    expect(system).toContain('E2B is down');
  });

  it('without E2B_API_KEY the gateway is reported unavailable and the task can go on', async () => {
    const config = loadConfig({ GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', DEEP_AGENT_GITHUB_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });
    mcp = await attachMcp(config, { sandboxProvider: new UnsafeLocalSandboxProvider({ home: config.home }), runtime: mcpServerRuntime() });
    expect(mcp.status().find((s) => s.name === 'e2b')).toMatchObject({ state: 'disabled', reason: expect.stringContaining('E2B_API_KEY') });
    expect(mcp.unavailableNote()).toContain('E2B_API_KEY');
  });
});
