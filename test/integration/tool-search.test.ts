import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { TOOL_SEARCH_TOOL } from '../../lib/model/index.js';
import { MemoryTaskStore } from '../../lib/task/index.js';
import { defineTool } from '../../lib/tools/index.js';
import { modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { lastToolResults, startScriptedModel } from '../helpers/scripted-model.js';

const manyMcpTools = (ran: string[] = []) =>
  Array.from({ length: 150 }, (_, i) =>
    defineTool({
      name: `mcp__server${Math.floor(i / 30)}__operation_${i % 30}`,
      description: `Operation ${i}. ${'Reads or changes one kind of record on the remote service. '.repeat(4)}`,
      input: z.object({ owner: z.string().describe('the account'), name: z.string().describe('the resource') }),
      run: async () => {
        ran.push(`operation ${i}`);
        return `operation ${i} done`;
      },
    }),
  );

/** Runs a 3-turn task with 150 MCP tools and returns what the scripted server received and billed. */
async function run(toolSearchThresholdTokens: number | false) {
  const server = await startScriptedModel((req) =>
    req.body.messages.length < 5 ? { toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'look', status: 'in_progress' }] } }] } : { text: 'done' },
  );
  try {
    const store = new MemoryTaskStore();
    const taskId = await queuedTask(store, 'many tools');
    const record = await runTask({ taskId, store, model: await modelFor(server, { toolSearchThresholdTokens }), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: manyMcpTools() });
    return { record, bodies: server.requests.map((r) => r.body) };
  } finally {
    await server.close();
  }
}

describe('tool search through the real SDK (scripted server)', () => {
  it('defers the MCP tools behind the search tool, keeps the built-in ones, and bills a fraction of the eager prompt', async () => {
    const deferred = await run(10_000);
    const eager = await run(false);
    expect(deferred.record.status).toBe('succeeded');

    const tools = deferred.bodies[0].tools as Array<{ name: string; type?: string; defer_loading?: boolean; cache_control?: unknown }>;
    expect(tools.find((t) => t.name === TOOL_SEARCH_TOOL.name)).toMatchObject({ type: TOOL_SEARCH_TOOL.type, cache_control: { type: 'ephemeral' } });
    expect(tools.filter((t) => t.name.startsWith('mcp__')).every((t) => t.defer_loading === true && t.cache_control === undefined)).toBe(true);
    expect(tools.filter((t) => !t.name.startsWith('mcp__') && t.name !== TOOL_SEARCH_TOOL.name).some((t) => t.defer_loading)).toBe(false);
    expect(eager.bodies[0].tools.some((t: { defer_loading?: boolean }) => t.defer_loading)).toBe(false);

    // Every request sends the same tools, so the cached prefix is the same turn after turn.
    expect(new Set(deferred.bodies.map((b) => JSON.stringify(b.tools))).size).toBe(1);
    const promptOf = (u: { inputTokens: number; cacheReadTokens: number; cacheWriteTokens: number }) => u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
    expect(promptOf(deferred.record.usage)).toBeLessThan(promptOf(eager.record.usage) * 0.2);
  });
});

describe('client-side tool search (DEEP_AGENT_TOOL_SEARCH=client) through the real SDK', () => {
  type SentTool = { name: string; defer_loading?: boolean };
  /** Turn 1 searches, turn 2 calls what it found through call_tool, turn 3 calls a withheld tool it was never shown, turn 4 ends. */
  async function clientRun(approvalPolicy?: (t: { name: string }) => string | undefined) {
    const server = await startScriptedModel([
      { toolUses: [{ name: 'search_tools', input: { query: 'operation 42', limit: 2 } }] },
      { toolUses: [{ name: 'call_tool', input: { name: 'mcp__server1__operation_12', input: { owner: 'o', name: 'n' } } }] },
      { toolUses: [{ name: 'mcp__server4__operation_29', input: { owner: 'o', name: 'n' } }] },
      { text: 'done' },
    ]);
    try {
      const ran: string[] = [];
      const store = new MemoryTaskStore();
      const taskId = await queuedTask(store, 'many tools');
      const record = await runTask({
        taskId,
        store,
        model: await modelFor(server, { toolSearch: 'client' }),
        sandboxProvider: noSandbox,
        journal: new MemoryJournal(),
        tools: manyMcpTools(ran),
        ...(approvalPolicy ? { approvalPolicy } : {}),
      });
      const events = await store.listEvents(taskId);
      return { record, ran, events, bodies: server.requests.map((r) => r.body), results: server.requests.map((r) => [...lastToolResults(r).values()]) };
    } finally {
      await server.close();
    }
  }

  it('withholds the MCP tools behind search_tools and call_tool, sends the same tools every turn, and runs a withheld tool called by name', async () => {
    const { record, ran, events, bodies, results } = await clientRun();
    expect(record.status).toBe('succeeded');
    const names = (b: { tools: SentTool[] }) => b.tools.map((t) => t.name);
    expect(names(bodies[0]).some((n) => n.startsWith('mcp__'))).toBe(false);
    expect(names(bodies[0])).toEqual(expect.arrayContaining(['search_tools', 'call_tool']));
    expect(bodies[0].tools.some((t: SentTool) => t.defer_loading || t.name === TOOL_SEARCH_TOOL.name)).toBe(false);

    // The search answers with the matches' schemas; the tools sent never change, so the whole prefix stays cached.
    expect(results[1]![0]!.text).toContain('mcp__server1__operation_12: Operation 42.');
    expect(results[1]![0]!.text).toContain('input schema: {');
    expect(new Set(bodies.map((b) => JSON.stringify(b.tools))).size).toBe(1);

    // The call through call_tool and the one guessed by name both ran, and the events name the tool that ran.
    expect(ran).toEqual(['operation 42', 'operation 149']);
    expect(results[2]![0]).toEqual({ text: 'operation 42 done', isError: false });
    expect(results[3]![0]).toEqual({ text: 'operation 149 done', isError: false });
    const calls = events.filter((e) => e.type === 'tool.called').map((e) => e.data.name);
    expect(calls).toEqual(['search_tools', 'mcp__server1__operation_12', 'mcp__server4__operation_29']);
  });

  it('answers a call_tool of a tool that does not exist with a tool error, and keeps going', async () => {
    const server = await startScriptedModel([{ toolUses: [{ name: 'call_tool', input: { name: 'mcp__server9__nothing', input: {} } }] }, { text: 'done' }]);
    try {
      const store = new MemoryTaskStore();
      const record = await runTask({ taskId: await queuedTask(store, 'many tools'), store, model: await modelFor(server, { toolSearch: 'client' }), sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: manyMcpTools() });
      expect(record.status).toBe('succeeded');
      const [result] = [...lastToolResults(server.requests[1]!).values()];
      expect(result).toMatchObject({ isError: true, text: expect.stringContaining('no tool named mcp__server9__nothing') });
    } finally {
      await server.close();
    }
  });

  it('drops the first request\'s tool tokens by at least 80% against sending every schema', async () => {
    const client = await clientRun();
    const eager = await run(false);
    const toolChars = (b: { tools: unknown[] }) => JSON.stringify(b.tools).length;
    expect(toolChars(client.bodies[0])).toBeLessThan(toolChars(eager.bodies[0]) * 0.2);
  });

  it('applies approvals to a withheld tool called directly', async () => {
    const { ran, results } = await clientRun((t) => (t.name === 'mcp__server4__operation_29' ? 'writes to the service' : undefined));
    expect(ran).toEqual(['operation 42']);
    expect(results[3]![0]!.isError).toBe(true);
  });

  it('applies the named tool\'s approvals to a call through call_tool, not call_tool\'s', async () => {
    const { ran, results } = await clientRun((t) => (t.name === 'mcp__server1__operation_12' ? 'writes to the service' : undefined));
    expect(ran).toEqual(['operation 149']);
    expect(results[2]![0]!.isError).toBe(true);
  });

  it('sends on a replay the tools the first run sent, without searching or calling again', async () => {
    const first = await startScriptedModel([
      { toolUses: [{ name: 'search_tools', input: { query: 'operation 42', limit: 2 } }] },
      { toolUses: [{ name: 'call_tool', input: { name: 'mcp__server1__operation_12', input: { owner: 'o', name: 'n' } } }] },
      { text: 'done' },
    ]);
    const journal = new MemoryJournal();
    try {
      const store = new MemoryTaskStore();
      await runTask({ taskId: await queuedTask(store, 'many tools'), store, model: await modelFor(first, { toolSearch: 'client' }), sandboxProvider: noSandbox, journal, tools: manyMcpTools() });
    } finally {
      await first.close();
    }
    // The journal as it was after turn 2's tool call: a run resumed there replays both turns and asks for turn 3.
    const kept = journal.executed.slice(0, journal.executed.indexOf('model:2') + 2);
    expect(kept.at(-1)).toMatch(/^tool:/);
    const resumed = new MemoryJournal();
    for (const name of kept) resumed.entries.set(name, journal.entries.get(name));
    const second = await startScriptedModel([{ text: 'done' }]);
    try {
      const store = new MemoryTaskStore();
      const searched: string[] = [];
      const record = await runTask({ taskId: await queuedTask(store, 'many tools'), store, model: await modelFor(second, { toolSearch: 'client' }), sandboxProvider: noSandbox, journal: resumed, tools: manyMcpTools(searched) });
      expect(record.status).toBe('succeeded');
      expect(second.requests).toHaveLength(1);
      expect(JSON.stringify(second.requests[0]!.body.tools)).toBe(JSON.stringify(first.requests[0]!.body.tools));
      expect(resumed.executed.filter((n) => n.startsWith('tool:'))).toEqual([]);
      expect(searched).toEqual([]);
    } finally {
      await second.close();
    }
  });
});
