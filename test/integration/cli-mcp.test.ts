import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskEvent, TaskRecord } from '../../lib/task/index.js';
import { baseEnv, runCli, type CliResult } from '../helpers/cli.js';
import { EVERYTHING_BIN } from '../helpers/mcp-servers.js';
import { firstUserText, lastToolResults, startScriptedModel, type CapturedRequest, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';

/** What the scripted model does for each task prompt, turn by turn (then it answers with text). */
const SCRIPTS: Record<string, ((turn: number) => ScriptedReply | undefined) | undefined> = {
  'build a calc MCP server': (turn) =>
    [
      { toolUses: [{ name: 'scaffold_mcp_server', input: { name: 'calc', description: 'Small maths' } }] },
      {
        toolUses: [
          {
            name: 'add_mcp_tool_to_server',
            input: {
              server: 'calc',
              name: 'multiply',
              description: 'Multiplies two numbers',
              inputSchema: { a: { type: 'number' }, b: { type: 'number' } },
              // cwd shows where the server really runs: the sandbox's /workspace, not the host.
              implementation: 'return { product: args.a * args.b, cwd: process.cwd() };',
            },
          },
        ],
      },
      {
        toolUses: [
          {
            name: 'add_mcp_tool_to_server',
            input: {
              server: 'calc',
              name: 'shout',
              description: 'Upper-cases text',
              inputSchema: { text: { type: 'string' }, times: { type: 'integer', optional: true } },
              implementation: 'return args.text.toUpperCase().repeat(args.times ?? 1);',
            },
          },
        ],
      },
      { toolUses: [{ name: 'test_mcp_server', input: { server: 'calc', calls: [{ tool: 'multiply', arguments: { a: 6, b: 7 } }, { tool: 'shout', arguments: { text: 'hi', times: 2 } }] } }] },
      { toolUses: [{ name: 'deploy_mcp_server', input: { server: 'calc' } }] },
    ][turn - 1],
  // Self-extension within one task: build and deploy, then call the new tool in the next turn and from a sub-agent.
  'build a calc server and use it at once': (turn) =>
    [
      { toolUses: [{ name: 'scaffold_mcp_server', input: { name: 'calc', description: 'Small maths' } }] },
      {
        toolUses: [
          {
            name: 'add_mcp_tool_to_server',
            input: { server: 'calc', name: 'multiply', description: 'Multiplies two numbers', inputSchema: { a: { type: 'number' }, b: { type: 'number' } }, implementation: 'return { product: args.a * args.b };' },
          },
        ],
      },
      { toolUses: [{ name: 'deploy_mcp_server', input: { server: 'calc' } }] },
      { toolUses: [{ name: 'mcp__calc__multiply', input: { a: 6, b: 7 } }] },
      { toolUses: [{ name: 'task', input: { description: 'multiply in a sub-agent', prompt: 'sub-agent: multiply 3 by 5 with calc' } }] },
    ][turn - 1],
  'sub-agent: multiply 3 by 5 with calc': (turn) => (turn === 1 ? { toolUses: [{ name: 'mcp__calc__multiply', input: { a: 3, b: 5 } }] } : undefined),
  'multiply 6 by 7 with the calc server': (turn) => (turn === 1 ? { toolUses: [{ name: 'mcp__calc__multiply', input: { a: 6, b: 7 } }] } : undefined),
  'shout hey (asked, no terminal)': (turn) => (turn === 1 ? { toolUses: [{ name: 'mcp__calc__shout', input: { text: 'hey' } }] } : undefined),
  'shout hey (approved by --yes)': (turn) => (turn === 1 ? { toolUses: [{ name: 'mcp__calc__shout', input: { text: 'hey' } }] } : undefined),
  'echo through server-everything': (turn) => (turn === 1 ? { toolUses: [{ name: 'mcp__everything__echo', input: { message: 'hello from the cli' } }] } : undefined),
};

describe('MCP through the CLI (subprocesses, scripted model, bubblewrap)', () => {
  let server: ScriptedModelServer;
  /** Requests of one task, found by its prompt. */
  const requestsOf = (prompt: string): CapturedRequest[] => server.requests.filter((r) => firstUserText(r) === prompt);
  const toolResultOf = (prompt: string, index: number) => [...lastToolResults(requestsOf(prompt)[index]!).values()][0]!;
  const logOf = (home: string, record: TaskRecord) => JSON.parse(readFileSync(join(home, 'logs', `${record.id}.json`), 'utf8')) as { events: TaskEvent[] };
  const run = async (home: string, prompt: string, extraEnv: Record<string, string> = {}, flags: string[] = []) => {
    const result = await runCli(['run', '--json', ...flags, prompt], baseEnv({ ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home, ...extraEnv }));
    let record: TaskRecord | undefined;
    try {
      record = JSON.parse(result.stdout) as TaskRecord;
    } catch {
      // leave undefined: the exit-code assertion shows stderr
    }
    return { result, record: record! };
  };

  beforeAll(async () => {
    server = await startScriptedModel((req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      return SCRIPTS[firstUserText(req)]?.(turn) ?? { text: 'done' };
    });
  });
  afterAll(async () => server.close());

  describe('the builder across processes', () => {
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-mcp-'));
    let built: { result: CliResult; record: TaskRecord };

    beforeAll(async () => {
      built = await run(home, 'build a calc MCP server');
    }, 60_000);

    it('scaffolds, adds two tools, tests the server by running it in the sandbox, and deploys it, in one run', () => {
      const prompt = 'build a calc MCP server';
      expect(built.result.code, built.result.stderr).toBe(0);
      expect(built.record.status).toBe('succeeded');
      expect(toolResultOf(prompt, 3).text).toContain('the server now has: multiply, shout');

      const tested = toolResultOf(prompt, 4);
      expect(tested.isError).toBe(false);
      const report = JSON.parse(tested.text);
      expect(report).toMatchObject({ server: 'calc', started: true });
      expect(report.tools.map((t: { name: string }) => t.name).sort()).toEqual(['multiply', 'shout']);
      expect(report.calls[0]).toMatchObject({ tool: 'multiply', ok: true, structuredContent: { product: 42, cwd: '/workspace/mcp-servers/calc' } });
      expect(report.calls[1]).toMatchObject({ tool: 'shout', ok: true, text: 'HIHI' });

      const deployed = toolResultOf(prompt, 5);
      expect(deployed.isError).toBe(false);
      expect(deployed.text).toContain(`Deployed calc to ${join(home, 'mcp-servers', 'calc')}`);
      expect(deployed.text).toMatch(/Attached now: mcp__calc__multiply, mcp__calc__shout/);
      expect(deployed.text).toContain('"mcpServers"');
      expect(existsSync(join(home, 'mcp-servers', 'calc', 'manifest.json'))).toBe(true);
    });

    it('a later task in a new process calls mcp__calc__multiply and gets the right answer', async () => {
      const prompt = 'multiply 6 by 7 with the calc server';
      const { result, record } = await run(home, prompt);
      expect(result.code, result.stderr).toBe(0);
      expect(requestsOf(prompt)[0]!.body.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['mcp__calc__multiply', 'mcp__calc__shout']));
      const answer = toolResultOf(prompt, 1);
      expect(answer.isError).toBe(false);
      // The deployed server runs in a sandbox of its own, from its copy under /workspace/server.
      expect(JSON.parse(answer.text)).toEqual({ product: 42, cwd: '/workspace/server' });
      const started = logOf(home, record).events.find((e) => e.type === 'task.started')!;
      expect(started.data.mcpServers).toEqual(expect.arrayContaining([{ name: 'calc', state: 'connected' }]));
    }, 30_000);

    it('DEEP_AGENT_APPROVAL=destructive: a tool not marked read-only is denied without a terminal or --yes', async () => {
      const prompt = 'shout hey (asked, no terminal)';
      const { result, record } = await run(home, prompt, { DEEP_AGENT_APPROVAL: 'destructive' });
      expect(result.code, result.stderr).toBe(0);
      const denied = toolResultOf(prompt, 1);
      expect(denied.isError).toBe(true);
      expect(denied.text).toContain('denied');
      expect(denied.text).toContain('pass --yes');
      expect(denied.text).not.toContain('HEY');
      const events = logOf(home, record).events;
      expect(events.find((e) => e.type === 'approval.requested')?.data).toMatchObject({ tool: 'mcp__calc__shout', reason: expect.stringContaining('not marked read-only') });
      expect(events.find((e) => e.type === 'approval.resolved')?.data).toMatchObject({ approve: false });
      expect(events.some((e) => e.type === 'tool.called' && e.data.name === 'mcp__calc__shout')).toBe(false);
    }, 30_000);

    it('DEEP_AGENT_APPROVAL=destructive with --yes: the same call runs', async () => {
      const prompt = 'shout hey (approved by --yes)';
      const { result, record } = await run(home, prompt, { DEEP_AGENT_APPROVAL: 'destructive' }, ['--yes']);
      expect(result.code, result.stderr).toBe(0);
      expect(toolResultOf(prompt, 1)).toEqual({ isError: false, text: 'HEY' });
      expect(logOf(home, record).events.find((e) => e.type === 'approval.resolved')?.data).toMatchObject({ approve: true, reason: 'approved by --yes' });
    }, 30_000);
  });

  it('one run scaffolds, adds a tool, deploys, and calls the new tool in its next turn and from a sub-agent', async () => {
    // prepare
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-mcp-'));
    const prompt = 'build a calc server and use it at once';
    const sub = 'sub-agent: multiply 3 by 5 with calc';
    // act
    const { result, record } = await run(home, prompt);
    // assess
    expect(result.code, result.stderr).toBe(0);
    expect(toolResultOf(prompt, 3).text).toMatch(/Attached now: mcp__calc__multiply/);
    const toolNames = (i: number) => (requestsOf(prompt)[i]!.body.tools as { name: string }[]).map((t) => t.name);
    // the turn after the deploy offers the new tool, appended: the earlier tools keep their order (prompt cache)
    expect(toolNames(2)).not.toContain('mcp__calc__multiply');
    expect(toolNames(3)).toEqual([...toolNames(2), 'mcp__calc__multiply']);
    expect(toolResultOf(prompt, 4)).toMatchObject({ isError: false });
    expect(JSON.parse(toolResultOf(prompt, 4).text)).toEqual({ product: 42 });
    // the sub-agent was offered it and got the right answer from it
    expect((requestsOf(sub)[0]!.body.tools as { name: string }[]).map((t) => t.name)).toContain('mcp__calc__multiply');
    expect(JSON.parse(toolResultOf(sub, 1).text)).toEqual({ product: 15 });
    expect(record.status).toBe('succeeded');
  }, 60_000);

  it('a .mcp.json with server-everything and a broken server: the task runs, and the broken one is reported', async () => {
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-mcp-'));
    const configPath = join(home, 'servers.json');
    writeFileSync(
      configPath,
      JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING_BIN, 'stdio'] }, broken: { command: join(home, 'no-such-server') } } }),
    );
    const prompt = 'echo through server-everything';
    const { result, record } = await run(home, prompt, { DEEP_AGENT_MCP_CONFIG: configPath });
    expect(result.code, result.stderr).toBe(0);
    expect(record.status).toBe('succeeded');
    expect(toolResultOf(prompt, 1)).toMatchObject({ isError: false, text: expect.stringContaining('Echo: hello from the cli') });

    const started = logOf(home, record).events.find((e) => e.type === 'task.started')!;
    const servers = started.data.mcpServers as { name: string; state: string; reason?: string }[];
    expect(servers).toEqual(expect.arrayContaining([{ name: 'everything', state: 'connected' }, { name: 'broken', state: 'failed', reason: expect.any(String) }]));
    const system = JSON.stringify(requestsOf(prompt)[0]!.body.system);
    expect(system).toMatch(/not available in this task: [^"]*broken \(/);
    expect(requestsOf(prompt)[0]!.body.tools.some((t: { name: string }) => t.name.startsWith('mcp__broken__'))).toBe(false);
  }, 30_000);

  it('deep-agent mcp list says why the GitHub preset is not attached, with and without GITHUB_TOKEN', async () => {
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-cli-mcp-'));
    const [without, withToken] = await Promise.all([
      runCli(['mcp', 'list'], baseEnv({ DEEP_AGENT_HOME: home }), { cwd: home }),
      // No network here (and a made-up token anyway): the remote server cannot be reached, and the line says so.
      runCli(['mcp', 'list'], baseEnv({ DEEP_AGENT_HOME: home, GITHUB_TOKEN: 'ghp_not_a_real_token' }), { cwd: home }),
    ]);
    expect(without.code, without.stderr).toBe(0);
    expect(without.stdout).toMatch(/^github: disabled, 0 tools - GITHUB_TOKEN is not set$/m);
    expect(without.stdout).toMatch(/^notion: disabled, 0 tools - NOTION_TOKEN is not set$/m);
    expect(withToken.code, withToken.stderr).toBe(0);
    expect(withToken.stdout).toMatch(/^github: failed \(http, preset\), 0 tools - https:\/\/api\.githubcopilot\.com\/mcp\/: .+$/m);
    expect(withToken.stdout).not.toContain('GITHUB_TOKEN is not set');
    expect(withToken.stdout).not.toContain('ghp_not_a_real_token');
  }, 30_000);
});
