import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../lib/cli/index.js';
import { baseEnv, REPO_ROOT, runCli } from '../helpers/cli.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const CANARY = ['sk', 'ant', 'api03', 'DOCTOR', 'f00dfeedc0ffee1234'].join('-');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('deep-agent doctor (subprocess)', () => {
  let model: ScriptedModelServer;
  let silent: Server;
  const sockets: Socket[] = [];
  let silentUrl: string;

  beforeAll(async () => {
    model = await startScriptedModel([]);
    // Accepts connections and never answers: doctor must give up on its own, not hang.
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await model.close();
  });

  it('reports Node, bubblewrap, which keys are set (never their values) and that the API answers', async () => {
    const home = mkdtempSync(join(tmpdir(), 'doctor-'));
    const res = await runCli(['doctor'], baseEnv({ HOME: home, ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_SANDBOX: 'local' }), { cwd: home });
    expect(res.stdout).toMatch(/^ok {4}node +\d+\.\d+\.\d+$/m);
    expect(res.stdout).toMatch(/^ok {4}bubblewrap +installed and works/m);
    expect(res.stdout).toMatch(/^ok {4}ANTHROPIC_API_KEY +set$/m);
    expect(res.stdout).toMatch(/^info {2}E2B_API_KEY +not set/m);
    expect(res.stdout).toMatch(new RegExp(`^warn  anthropic api +${model.url} reachable, but HTTP 404`, 'm'));
    expect(res.stdout).toMatch(/^info {2}host limits +/m);
    expect(res.stdout + res.stderr).not.toContain(CANARY);
    expect(res.code).toBe(0);
  });

  it('says in one line that an API which does not answer is unreachable, within its timeout', async () => {
    const home = mkdtempSync(join(tmpdir(), 'doctor-'));
    const t0 = Date.now();
    const res = await runCli(['doctor'], baseEnv({ HOME: home, ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: silentUrl, DEEP_AGENT_SANDBOX: 'unsafe-local' }), { cwd: home });
    expect(Date.now() - t0).toBeLessThan(20_000);
    const line = res.stdout.split('\n').filter((l) => l.includes('anthropic api'));
    expect(line).toEqual([expect.stringMatching(/^warn {2}anthropic api +http:\/\/127\.0\.0\.1:\d+ unreachable \(no answer within 3 s\)$/)]);
    expect(res.code).toBe(0);
  });

  it('fails (exit 1) when the model key is missing, naming the variable', async () => {
    const home = mkdtempSync(join(tmpdir(), 'doctor-'));
    // A port nothing listens on: the connection is refused at once.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const res = await runCli(['doctor', '--json'], baseEnv({ HOME: home, ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, DEEP_AGENT_SANDBOX: 'unsafe-local' }), { cwd: home });
    const report = JSON.parse(res.stdout) as { ok: boolean; checks: Array<{ level: string; name: string; detail: string }> };
    expect(report.ok).toBe(false);
    expect(report.checks).toContainEqual({ level: 'fail', name: 'ANTHROPIC_API_KEY', detail: 'not set' });
    expect(report.checks.find((c) => c.name === 'anthropic api')?.detail).toMatch(/unreachable \(ECONNREFUSED\)/);
    expect(res.code).toBe(1);
  });
});

describe('deep-agent init (subprocess)', () => {
  it('writes .env.example and .mcp.json, then leaves both alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-'));
    const first = await runCli(['init'], baseEnv({}), { cwd: dir });
    expect(first.stdout).toBe('wrote    .env.example\nwrote    .mcp.json\n');
    expect(readFileSync(join(dir, '.env.example'), 'utf8')).toMatch(/^ANTHROPIC_API_KEY=$/m);
    expect(JSON.parse(readFileSync(join(dir, '.mcp.json'), 'utf8'))).toEqual({ mcpServers: {} });

    writeFileSync(join(dir, '.mcp.json'), '{"mcpServers":{"mine":{"command":"my-server"}}}');
    const second = await runCli(['init'], baseEnv({}), { cwd: dir });
    expect(second.stdout).toBe('skipped  .env.example (already exists)\nskipped  .mcp.json (already exists)\n');
    expect(readFileSync(join(dir, '.mcp.json'), 'utf8')).toBe('{"mcpServers":{"mine":{"command":"my-server"}}}');
    expect(second.code).toBe(0);
  });

  it('the .mcp.json it writes is accepted by mcp list', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'init-'));
    await runCli(['init'], baseEnv({}), { cwd: dir });
    const res = await runCli(['mcp', 'list'], baseEnv({ DEEP_AGENT_SANDBOX: 'unsafe-local', DEEP_AGENT_HOME: join(dir, '.deep-agent') }), { cwd: dir });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});

describe('deep-agent --version and --help (subprocess)', () => {
  it('prints the package version, and help names it and every command', async () => {
    const version = await runCli(['--version'], baseEnv({}));
    expect(version).toMatchObject({ code: 0, stdout: `deep-agent ${VERSION}\n` });
    const help = await runCli(['--help'], baseEnv({}));
    expect(help.stdout).toContain(`deep-agent --version               (prints deep-agent ${VERSION})`);
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[()|.]/g, '\\$&')}$`, 'm'));
  });

  it("each summary in the lazy command table is the loaded command's own", async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect({ name: command.name, summary: command.summary }).toEqual({ name: entry.name, summary: entry.summary });
    }
  });

  it('--model overrides the model for run', async () => {
    const model = await startScriptedModel([{ text: 'done' }]);
    try {
      const dir = mkdtempSync(join(tmpdir(), 'model-flag-'));
      const res = await runCli(['run', '--model', 'claude-opus-test-1', 'say done'], baseEnv({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_SANDBOX: 'unsafe-local', DEEP_AGENT_HOME: join(dir, '.deep-agent') }), { cwd: dir });
      expect(res.stdout).toBe('done\n');
      expect(model.requests.map((r) => r.body.model)).toEqual(['claude-opus-test-1']);
    } finally {
      await model.close();
    }
  });
});
