import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIO_NAMES, selectScenarios } from '../../lib/examples/index.js';
import { baseEnv, runCli } from '../helpers/cli.js';
import { firstUserText, lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const CODE_PROMPT = selectScenarios('code')![0]!.prompt;

describe('deep-agent examples (subprocess)', () => {
  let server: ScriptedModelServer;
  let home: string;

  beforeAll(async () => {
    // A model that does what the code scenario asks, in the real sandbox.
    server = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      if (turn === 1) {
        return {
          toolUses: [
            {
              name: 'write_file',
              input: { path: 'primes.py', content: 'n, ps = 2, []\nwhile len(ps) < 20:\n    ps += [n] if all(n % p for p in ps) else []\n    n += 1\nprint(*ps)\n' },
            },
          ],
        };
      }
      if (turn === 2) return { toolUses: [{ name: 'run_command', input: { command: 'python3 primes.py' } }] };
      return { text: 'primes.py printed the first 20 primes, ending in 71.' };
    });
    home = mkdtempSync(join(tmpdir(), 'deep-agent-examples-'));
  });
  afterAll(async () => server.close());

  it('--dry-run prints the scenario prompt and runs nothing', async () => {
    const r = await runCli(['examples', '--dry-run', 'code'], baseEnv({ DEEP_AGENT_HOME: home }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(CODE_PROMPT);
    expect(r.stdout).toMatch(/^# code: Arbitrary code execution/);
    expect(server.requests).toHaveLength(0);
  });

  it('skips github without GITHUB_TOKEN with one line naming the variable', async () => {
    const r = await runCli(['examples', 'github'], baseEnv({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^examples: skipped github: GITHUB_TOKEN .*is not set$/)]);
    expect(server.requests).toHaveLength(0);
  });

  it('runs code as a task against the model and succeeds', async () => {
    const r = await runCli(['examples', 'code', '--json'], baseEnv({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home }));
    expect(r.code, r.stderr).toBe(0);
    expect(firstUserText(server.requests[0]!)).toBe(CODE_PROMPT);
    const ran = [...lastToolResults(server.requests[2]!).values()][0]!;
    expect(ran).toMatchObject({ isError: false, text: expect.stringContaining('2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53 59 61 67 71') });
    const { scenarios } = JSON.parse(r.stdout) as { scenarios: { name: string; status: string; taskId: string; log: string; result: string }[] };
    expect(scenarios).toEqual([expect.objectContaining({ name: 'code', status: 'succeeded', result: expect.stringContaining('ending in 71') })]);
    expect(existsSync(join(home, 'logs', `${scenarios[0]!.taskId}.json`))).toBe(true);
    expect(r.stderr).toMatch(/✓ run_command/);
  });

  it('rejects an unknown scenario with a usage line listing the choices', async () => {
    const r = await runCli(['examples', 'weather'], baseEnv({ DEEP_AGENT_HOME: home }));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('unknown scenario "weather"');
    expect(r.stderr).toContain('mcp-builder');
  });
});

describe('deep-agent examples all (subprocess)', () => {
  let server: ScriptedModelServer;
  let home: string;
  const OFFLINE = ['code', 'data', 'package', 'workflow', 'mcp-builder'];

  beforeAll(async () => {
    server = await startScriptedModel(() => ({ text: 'done' }));
    home = mkdtempSync(join(tmpdir(), 'deep-agent-examples-all-'));
  });
  afterAll(async () => server.close());

  it('all --dry-run prints every scenario with its prompt and runs nothing', async () => {
    const r = await runCli(['examples', 'all', '--dry-run'], baseEnv({ DEEP_AGENT_HOME: home }));
    expect(r.code, r.stderr).toBe(0);
    const headers = [...r.stdout.matchAll(/^# ([a-z-]+): /gm)].map((m) => m[1]);
    expect(headers).toEqual([...SCENARIO_NAMES]);
    for (const name of SCENARIO_NAMES) expect(r.stdout).toContain(selectScenarios(name)![0]!.prompt);
    expect(r.stdout).toMatch(/^# sync: .*\(needs GITHUB_TOKEN, NOTION_TOKEN\)$/m);
    expect(server.requests).toHaveLength(0);
  });

  it('all without GitHub or Notion tokens skips those three, runs the five others and prints a summary', async () => {
    const r = await runCli(['examples', 'all', '--json'], baseEnv({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home }));
    expect(r.code, r.stderr).toBe(0);
    const prompts = server.requests.map(firstUserText);
    expect(prompts).toEqual(OFFLINE.map((name) => selectScenarios(name)![0]!.prompt));
    const { scenarios } = JSON.parse(r.stdout) as { scenarios: { name: string; status: string; result?: string }[] };
    expect(scenarios.map((s) => [s.name, s.status])).toEqual([
      ['github', 'skipped'],
      ['notion', 'skipped'],
      ['sync', 'skipped'],
      ...OFFLINE.map((name) => [name, 'succeeded']),
    ]);
    expect(scenarios.filter((s) => s.status === 'succeeded').every((s) => s.result === 'done')).toBe(true);
    expect(r.stderr).toContain('examples: skipped sync: GITHUB_TOKEN');
    expect(r.stderr.trim().split('\n').at(-1)).toBe('examples: 5 succeeded, 0 failed, 3 skipped; skipped: github, notion, sync');
  }, 30_000);
});
