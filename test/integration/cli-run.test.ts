import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, runCli } from '../helpers/cli.js';
import { lastToolResults, startScriptedModel, type CapturedRequest, type ScriptedModelServer } from '../helpers/scripted-model.js';

const CANARY = ['sk', 'ant', 'api03', 'CANARY', 'd0e1f2a3b4c5d6e7f8a9'].join('-');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('deep-agent run --json (subprocess, real SDK over HTTP, bubblewrap)', () => {
  let server: ScriptedModelServer;
  let home: string;
  let result: Awaited<ReturnType<typeof runCli>>;
  let record: TaskRecord;

  beforeAll(async () => {
    server = await startScriptedModel((req: CapturedRequest) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      switch (turn) {
        case 1:
          return {
            toolUses: [
              {
                name: 'write_todos',
                input: {
                  todos: [
                    { content: 'write the script', status: 'in_progress' },
                    { content: `run it (key ${CANARY})`, status: 'pending' },
                  ],
                },
              },
            ],
          };
        case 2:
          return { toolUses: [{ name: 'write_file', input: { path: 'src/hello.sh', content: 'echo "hello from the sandbox"; env > env.txt\n' } }] };
        case 3:
          return {
            toolUses: [
              { name: 'run_command', input: { command: 'sh src/hello.sh && wc -l < env.txt' } },
              { name: 'run_command', input: { command: `node -e "fetch('${server.url}').then(() => console.log('reached'), (e) => { console.log('blocked', e.cause?.code); process.exit(3) })"` } },
              { name: 'read_file', input: { path: '../../../etc/hostname' } },
            ],
          };
        case 4:
          return { toolUses: [{ name: 'read_file', input: { path: 'env.txt' } }] };
        case 5:
          return { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'write the script', status: 'completed' }, { content: 'run it', status: 'completed' }] } }] };
        default:
          return { text: 'The script ran and printed hello from the sandbox.' };
      }
    });
    home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-'));
    result = await runCli(['run', '--json', 'write a script that says hello and run it'], baseEnv({ ANTHROPIC_API_KEY: CANARY, ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home }));
    record = JSON.parse(result.stdout);
  });
  afterAll(async () => server.close());

  it('exits 0 and prints a succeeded record with the plan and the answer', () => {
    expect(result.code, result.stderr).toBe(0);
    expect(record.status).toBe('succeeded');
    expect(record.source).toBe('cli');
    expect(record.result?.text).toContain('hello from the sandbox');
    expect(record.plan.map((p) => p.status)).toEqual(['completed', 'completed']);
    expect(record.steps).toBe(6);
  });

  it('really ran the command in the sandbox and read the file back', () => {
    const turn3 = [...lastToolResults(server.requests[3]!).values()];
    expect(turn3[0]).toMatchObject({ isError: false, text: expect.stringContaining('hello from the sandbox') });
    const env = [...lastToolResults(server.requests[4]!).values()][0]!;
    expect(env.isError).toBe(false);
    expect(env.text).toContain('HOME=');
    expect(env.text).not.toContain('ANTHROPIC');
  });

  it('refuses a network call without the flag and a path outside the workspace', () => {
    const [, network, escape] = [...lastToolResults(server.requests[3]!).values()];
    expect(network).toMatchObject({ isError: true, text: expect.stringContaining('blocked') });
    expect(network!.text).not.toContain('reached');
    expect(escape).toMatchObject({ isError: true, text: expect.stringContaining('path_outside_workspace') });
  });

  it('reports usage with cache reads from the second request on', async () => {
    expect(record.usage.cacheReadTokens).toBeGreaterThan(0);
    expect(record.usage.costUsd).toBeGreaterThan(0);
    const log = JSON.parse(readFileSync(join(home, 'logs', `${record.id}.json`), 'utf8')) as { events: TaskEvent[] };
    const responses = log.events.filter((e) => e.type === 'model.response');
    expect(responses).toHaveLength(6);
    expect((responses[0]!.data.usage as TaskRecord['usage']).cacheReadTokens).toBe(0);
    for (const r of responses.slice(1)) expect((r.data.usage as TaskRecord['usage']).cacheReadTokens).toBeGreaterThan(0);
  });

  it('logs events in order, from queued to succeeded, and shows progress on stderr', () => {
    const log = JSON.parse(readFileSync(join(home, 'logs', `${record.id}.json`), 'utf8')) as { events: TaskEvent[] };
    const seqs = log.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const types = log.events.map((e) => e.type);
    expect(types[0]).toBe('task.queued');
    expect(types[1]).toBe('task.started');
    expect(types.at(-1)).toBe('task.succeeded');
    expect(types.filter((t) => t === 'tool.called')).toHaveLength(types.filter((t) => t === 'tool.result').length);
    expect(result.stderr).toContain('[x] write the script');
    expect(result.stderr).toMatch(/✓ run_command \(\d+ ms\)/);
    expect(result.stderr).toMatch(/cost \$\d+\.\d{4}/);
  });

  it('leaves the API key nowhere under DEEP_AGENT_HOME', () => {
    const files = filesUnder(home);
    expect(files.some((f) => f.endsWith('.db'))).toBe(true);
    for (const f of files) {
      if (statSync(f).size > 50_000_000) continue;
      expect(readFileSync(f).includes(CANARY), f).toBe(false);
    }
    expect(result.stdout).not.toContain(CANARY);
    expect(result.stderr).not.toContain(CANARY);
  });
});

describe('deep-agent run without credentials', () => {
  it('exits 1 with one line naming ANTHROPIC_API_KEY', async () => {
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-'));
    const r = await runCli(['run', 'anything'], baseEnv({ DEEP_AGENT_HOME: home }), { cwd: home });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('ANTHROPIC_API_KEY');
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('DEEP_AGENT_SANDBOX=e2b without E2B_API_KEY exits 1 with one line naming it', async () => {
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-'));
    const r = await runCli(['run', 'anything'], baseEnv({ DEEP_AGENT_HOME: home, ANTHROPIC_API_KEY: 'sk-ant-test-xxxxxxxxxxxx', DEEP_AGENT_SANDBOX: 'e2b' }), { cwd: home });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('E2B_API_KEY');
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('rejects a missing task with a usage line', async () => {
    const r = await runCli(['run'], baseEnv({ ANTHROPIC_API_KEY: 'x' }));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('what deep-agent run loads before its first model request (no .mcp.json)', () => {
  it('the model SDK, and neither the MCP SDK, the HTTP server, E2B, the AWS SDK nor the egress proxy', async () => {
    const server = await startScriptedModel(() => ({ text: 'hi' }));
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-'));
    const list = join(home, 'modules.txt');
    try {
      const recorder = fileURLToPath(new URL('../helpers/record-modules.mjs', import.meta.url));
      const env = baseEnv({ ANTHROPIC_API_KEY: 'sk-ant-test-modules', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: join(home, '.deep-agent'), DEEP_AGENT_SANDBOX: 'unsafe-local', RECORD_MODULES_TO: list });
      const r = await runCli(['run', 'say hi'], env, { cwd: home, nodeArgs: ['--import', recorder] });
      expect(r.code, r.stderr).toBe(0);
      const loaded = readFileSync(list, 'utf8').trim().split('\n');
      expect(loaded.some((u) => u.includes('/node_modules/@anthropic-ai/sdk/'))).toBe(true);
      const needless = loaded.filter((u) => /\/node_modules\/(@modelcontextprotocol\/sdk|hono|@hono\/node-server|e2b|@aws-sdk|@smithy|node-forge)\/|\/lib\/(http|mcp-connections|aws|sandbox\/e2b)\/|egress-proxy/.test(u));
      expect(needless).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
