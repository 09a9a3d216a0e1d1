/**
 * OAuth for a remote MCP server through the CLI, against a local OAuth-protected server: login, refresh on
 * 401 and before expiry without a person, a revoked refresh token (the server drops to `needs_login` and the
 * task goes on), logout, and no token value in plain text anywhere under DEEP_AGENT_HOME or in the output.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, runCli, type CliResult } from '../helpers/cli.js';
import { startOAuthMcpServer, type OAuthMcpServer } from '../helpers/oauth-mcp-server.js';
import { firstUserText, lastToolResults, startScriptedModel, type CapturedRequest, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';

const BROWSER = `${process.execPath} ${fileURLToPath(new URL('../helpers/follow-redirect-browser.mjs', import.meta.url))}`;

/** Every file under `dir`, recursively (the .db, its -wal, logs, keys). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

interface Setup {
  home: string;
  work: string;
  remote: OAuthMcpServer;
  env: Record<string, string>;
}

describe('OAuth for a remote MCP server (CLI, local OAuth server, scripted model)', () => {
  let model: ScriptedModelServer;
  /** Per prompt: what the model does at each turn (the hook runs when that turn's request arrives). */
  const scripts = new Map<string, (turn: number) => ScriptedReply | undefined>();
  const requestsOf = (prompt: string): CapturedRequest[] => model.requests.filter((r) => firstUserText(r) === prompt);
  const setups: Setup[] = [];
  const outputs: CliResult[] = [];

  beforeAll(async () => {
    model = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      return scripts.get(firstUserText(req))?.(turn) ?? { text: 'done' };
    });
  });
  afterAll(async () => {
    await model.close();
    await Promise.all(setups.map((s) => s.remote.close()));
  });

  async function setup(options: Parameters<typeof startOAuthMcpServer>[0] = {}): Promise<Setup> {
    const remote = await startOAuthMcpServer(options);
    const work = mkdtempSync(join(tmpdir(), 'deep-agent-oauth-'));
    const home = join(work, 'home');
    writeFileSync(join(work, '.mcp.json'), JSON.stringify({ mcpServers: { remote: { url: remote.mcpUrl } } }));
    const env = baseEnv({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_HOME: home, DEEP_AGENT_MCP_CONFIG: join(work, '.mcp.json') });
    const s = { home, work, remote, env };
    setups.push(s);
    return s;
  }
  const cli = async (s: Setup, args: string[], extra: Record<string, string> = {}) => {
    const r = await runCli(args, { ...s.env, ...extra }, { cwd: s.work });
    outputs.push(r);
    return r;
  };
  const login = (s: Setup) => cli(s, ['mcp', 'login', 'remote'], { BROWSER });
  const run = async (s: Setup, prompt: string) => {
    const r = await cli(s, ['run', '--json', prompt]);
    const record = JSON.parse(r.stdout) as TaskRecord;
    const log = JSON.parse(readFileSync(join(s.home, 'logs', `${record.id}.json`), 'utf8')) as { events: TaskEvent[] };
    return { r, record, events: log.events };
  };
  const toolResults = (prompt: string) => requestsOf(prompt).flatMap((req) => [...lastToolResults(req).values()]);
  const echo = (text: string): ScriptedReply => ({ toolUses: [{ name: 'mcp__remote__echo', input: { text } }] });

  it('logs in with one closing line, and a token that expires mid-task is refreshed without a person', async () => {
    const s = await setup();
    const l = await login(s);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout.trim().split('\n').at(-1)).toBe('remote: connected (1 tools), scopes granted: mcp:tools');

    const prompt = 'echo twice, the token expires in between';
    scripts.set(prompt, (turn) => {
      if (turn === 1) return echo('one');
      if (turn === 2) {
        s.remote.expireAccessTokens();
        return echo('two');
      }
      return undefined;
    });
    const before = s.remote.grants.length;
    const { r, record } = await run(s, prompt);
    expect(r.code, r.stderr).toBe(0);
    expect(record.status).toBe('succeeded');
    expect(toolResults(prompt)).toEqual([
      { text: 'echo: one', isError: false },
      { text: 'echo: two', isError: false },
    ]);
    expect(s.remote.grants.slice(before)).toEqual(['refresh_token']);
    expect(s.remote.calls.map((c) => c.args)).toEqual([{ text: 'one' }, { text: 'two' }]);
  });

  it('refreshes a token that is about to expire before the call, so the server never answers 401', async () => {
    const s = await setup({ expiresInSeconds: 30 });
    expect((await login(s)).code).toBe(0);
    const prompt = 'echo with a token close to expiry';
    scripts.set(prompt, (turn) => (turn === 1 ? echo('soon') : undefined));
    const before = { grants: s.remote.grants.length, unauthorized: s.remote.unauthorized };
    const { record } = await run(s, prompt);
    expect(record.status).toBe('succeeded');
    expect(toolResults(prompt)).toEqual([{ text: 'echo: soon', isError: false }]);
    expect(s.remote.grants.slice(before.grants)).toContain('refresh_token');
    expect(s.remote.unauthorized).toBe(before.unauthorized);
  });

  it('a revoked refresh token marks the server needs_login, the task goes on, and the next task starts without it', async () => {
    const s = await setup();
    expect((await login(s)).code).toBe(0);
    const prompt = 'echo, then the login is revoked';
    scripts.set(prompt, (turn) => {
      if (turn === 1) return echo('before');
      if (turn === 2) {
        s.remote.expireAccessTokens();
        s.remote.revokeRefreshTokens();
        return echo('after');
      }
      return undefined;
    });
    const { record } = await run(s, prompt);
    expect(record.status).toBe('succeeded');
    const [first, second] = toolResults(prompt);
    expect(first).toEqual({ text: 'echo: before', isError: false });
    expect(second!.isError).toBe(true);
    expect(second!.text).toContain('run deep-agent mcp login remote');

    const next = 'a task after the revocation';
    scripts.set(next, () => undefined);
    const after = await run(s, next);
    expect(after.record.status).toBe('succeeded');
    const started = after.events.find((e) => e.type === 'task.started')!;
    expect((started.data as { mcpServers: unknown[] }).mcpServers).toContainEqual(
      expect.objectContaining({ name: 'remote', state: 'needs_login', login: 'deep-agent mcp login remote' }),
    );
    // The model is told, with the command to run.
    expect(JSON.stringify(requestsOf(next)[0]!.body.system)).toContain('deep-agent mcp login remote');
  });

  it('a server never logged in is listed as needs_login; logout forgets the tokens', async () => {
    const s = await setup();
    const list = await cli(s, ['mcp', 'list']);
    expect(list.stdout).toMatch(/^remote: needs_login .*deep-agent mcp login remote/m);
    expect((await login(s)).code).toBe(0);
    expect((await cli(s, ['mcp', 'list'])).stdout).toMatch(/^remote: connected \(http, config\), 1 tools$/m);
    const out = await cli(s, ['mcp', 'logout', 'remote']);
    expect(out.stdout.trim()).toBe('remote: logged out (stored tokens deleted)');
    expect((await cli(s, ['mcp', 'list'])).stdout).toMatch(/^remote: needs_login/m);
    expect((await cli(s, ['mcp', 'logout', 'remote'])).stdout.trim()).toBe('remote: no stored login');
  });

  it('login to a name that is not an HTTP server of .mcp.json is one line and exit 2', async () => {
    const s = await setup();
    const r = await cli(s, ['mcp', 'login', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('deep-agent mcp: no MCP server "nope" in ' + join(s.work, '.mcp.json') + '; HTTP servers: remote');
  });

  it('no token value appears in plain text under DEEP_AGENT_HOME (db, -wal, logs) or in any output (canaries)', () => {
    const tokens = setups.flatMap((s) => s.remote.issued);
    expect(tokens.length).toBeGreaterThan(8);
    const leaks: string[] = [];
    for (const s of setups) {
      for (const file of filesUnder(s.home)) {
        const bytes = readFileSync(file).toString('latin1');
        for (const t of tokens) if (bytes.includes(t)) leaks.push(`${file}: ${t.slice(0, 6)}...`);
      }
    }
    for (const o of outputs) for (const t of tokens) if (o.stdout.includes(t) || o.stderr.includes(t)) leaks.push(`cli output: ${t.slice(0, 6)}...`);
    expect(leaks).toEqual([]);
    // The store did hold them: encrypted, in the credentials table.
    expect(setups.some((s) => filesUnder(s.home).some((f) => f.endsWith('deep-agent.db')))).toBe(true);
  });
});
