import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { TOOL_SEARCH_TOOL } from '../../lib/model/index.js';
import { MemoryTaskStore } from '../../lib/task/index.js';
import { defineTool } from '../../lib/tools/index.js';
import { modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { startScriptedModel } from '../helpers/scripted-model.js';

const manyMcpTools = () =>
  Array.from({ length: 150 }, (_, i) =>
    defineTool({
      name: `mcp__server${Math.floor(i / 30)}__operation_${i % 30}`,
      description: `Operation ${i}. ${'Reads or changes one kind of record on the remote service. '.repeat(4)}`,
      input: z.object({ owner: z.string().describe('the account'), name: z.string().describe('the resource') }),
      run: async () => 'unused',
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
