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
  it('attaches the gateway as one server with its bearer token, and its tools work', async () => {
    fake = await FakeE2B.start();
    everything = await startEverythingHttp();
    const seen: string[] = [];
    fake.mcpGatewayUrl = await recordingProxy(everything.spec.url, seen);
    const config = loadConfig({ GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', E2B_API_KEY: 'e2b_test0123456789abcdef0123', DEEP_AGENT_GITHUB_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });

    mcp = await attachMcp(config, { sandboxProvider: new UnsafeLocalSandboxProvider({ home: config.home }), runtime: mcpServerRuntime(), e2bSdk: fake });

    const status = mcp.status();
    expect(status.find((s) => s.name === 'e2b')).toMatchObject({ state: 'connected', source: 'e2b-gateway' });
    expect(status.find((s) => s.name === 'github')).toMatchObject({ state: 'disabled', reason: expect.stringContaining("E2B's MCP gateway") });
    const created = fake.callsOf('create')[0]!.args as { mcp?: Record<string, unknown> };
    expect(Object.keys(created.mcp ?? (created as any)[0]?.mcp ?? {})).toEqual(['githubOfficial']);
    const token = fake.only().mcpToken!;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((h) => h === `Bearer ${token}`)).toBe(true);
    const echo = mcp.toolsFor().find((t) => t.name === 'mcp__e2b__echo')!;
    const out = await echo.execute({ message: 'through the gateway' }, { taskId: 't', sandbox: async () => { throw new Error('unused'); }, signal: new AbortController().signal, emit: async () => {} });
    expect(JSON.stringify(out.content)).toContain('through the gateway');
    expect(describePresets(config)[0]).toMatchObject({ name: 'github', viaE2BGateway: true });
  });

  it('without E2B_API_KEY the gateway is reported unavailable and the task can go on', async () => {
    const config = loadConfig({ GITHUB_TOKEN: 'ghp_test_gateway_token_0000000000000000', DEEP_AGENT_GITHUB_MCP: 'e2b', DEEP_AGENT_HOME: mkdtempSync(join(tmpdir(), 'gw-')) });
    mcp = await attachMcp(config, { sandboxProvider: new UnsafeLocalSandboxProvider({ home: config.home }), runtime: mcpServerRuntime() });
    expect(mcp.status().find((s) => s.name === 'e2b')).toMatchObject({ state: 'disabled', reason: expect.stringContaining('E2B_API_KEY') });
    expect(mcp.unavailableNote()).toContain('E2B_API_KEY');
  });
});
