import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../lib/assembly/index.js';
import { BubblewrapSandboxProvider, type Sandbox, type SandboxProvider } from '../../lib/sandbox/index.js';
import type { TaskEvent } from '../../lib/task/index.js';
import { TEST_API_KEY } from '../helpers/factories.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';
import { until } from '../helpers/wait.js';

let server: ScriptedModelServer | undefined;
afterEach(async () => server?.close());

/** Counts sandboxes closed by the agent, around the real bubblewrap provider. */
function counting(provider: SandboxProvider, closed: string[], created: string[] = []): SandboxProvider {
  return {
    name: provider.name,
    async create(options) {
      const s = await provider.create(options);
      created.push(s.id);
      return new Proxy(s, { get: (t, p) => (p === 'close' ? async () => { closed.push(t.id); await t.close(); } : Reflect.get(t, p)) }) as Sandbox;
    },
  };
}

describe('createAgent (the library API)', () => {
  it('invokes a task, returns the record, streams events, and kills the sandbox at the end', async () => {
    server = await startScriptedModel([{ toolUses: [{ name: 'run_command', input: { command: 'echo library > out.txt' } }] }, { text: 'wrote out.txt' }]);
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-lib-'));
    const closed: string[] = [];
    const events: TaskEvent[] = [];
    let record;
    {
      await using agent = await createAgent({
        env: { ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home },
        sandboxProvider: counting(new BubblewrapSandboxProvider({ home }), closed),
        onEvent: (e) => events.push(e),
      });
      record = await agent.invoke('write out.txt');
      expect(await agent.store.get(record.id)).toMatchObject({ status: 'succeeded' });
    }

    expect(record.status).toBe('succeeded');
    expect(record.result?.text).toBe('wrote out.txt');
    expect(closed).toHaveLength(1);
    expect(readFileSync(join(home, 'workspaces', record.id, 'out.txt'), 'utf8')).toBe('library\n');
    expect(events.map((e) => e.type)).toEqual(['task.queued', 'task.started', 'model.response', 'tool.called', 'tool.result', 'model.response', 'task.succeeded']);
    // One sandbox, for this task, under the configured DEEP_AGENT_HOME.
    expect(readdirSync(join(home, 'workspaces'))).toEqual([record.id]);
  });

  it('is assembled like the CLI: the configured approval policy holds, and MCP is attached', async () => {
    server = await startScriptedModel((req) =>
      req.body.messages.length === 1
        ? { toolUses: [{ name: 'run_command', input: { command: 'echo no > denied.txt' } }] }
        : { text: [...lastToolResults(req).values()].map((r) => `${r.isError ? 'error' : 'ok'}: ${r.text}`).join('\n') },
    );
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-lib-'));
    const events: TaskEvent[] = [];
    await using agent = await createAgent({
      env: { ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home, DEEP_AGENT_APPROVE_TOOLS: 'run_command' },
      sandboxProvider: new BubblewrapSandboxProvider({ home }),
      onEvent: (e) => events.push(e),
    });

    const record = await agent.invoke('write denied.txt');

    // The library run cannot ask a person, so the call that needs approval is denied, never run.
    expect(record.result?.text).toMatch(/^error: denied: run_command needs a person's approval \(run_command is configured to need approval\)/);
    expect(existsSync(join(home, 'workspaces', record.id, 'denied.txt'))).toBe(false);
    // What the assembly adds to every run: the MCP presets, each saying why it is not attached.
    expect(events.find((e) => e.type === 'task.started')?.data).toMatchObject({
      mcpServers: [
        { name: 'github', state: 'disabled', reason: 'GITHUB_TOKEN is not set' },
        { name: 'notion', state: 'disabled', reason: 'NOTION_TOKEN is not set' },
      ],
    });
  });

  it('close() cancels a run in progress and still kills its sandbox', async () => {
    server = await startScriptedModel(() => ({ toolUses: [{ name: 'run_command', input: { command: 'sleep 0.2' } }] }));
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-lib-'));
    const closed: string[] = [];
    const created: string[] = [];
    const agent = await createAgent({
      env: { ANTHROPIC_API_KEY: TEST_API_KEY, ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home },
      sandboxProvider: counting(new BubblewrapSandboxProvider({ home }), closed, created),
    });
    const running = agent.invoke('loop');
    // Close while the task is really running: its sandbox exists and a command has started.
    await until(async () => created.length, (n) => n > 0, 30_000);

    await agent.close();
    const record = await running;

    expect(record.status).toBe('cancelled');
    expect(closed).toHaveLength(1);
    await expect(agent.invoke('again')).rejects.toThrow(/closed/);
  });

  it('without an API key it fails in one line naming it', async () => {
    await expect(createAgent({ env: {} })).rejects.toThrow(/^ANTHROPIC_API_KEY is not set/);
  });
});
