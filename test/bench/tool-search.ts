/**
 * Tool search with five MCP servers of 30 tools each: tool tokens of the first request, and the cache-read share
 * of later turns, with MCP tools deferred behind the API's tool search and with every schema sent (eager).
 * Tokens are counted as the scripted server counts them (characters / 4; deferred tools are not in the prompt).
 * The scripted model never searches, so later turns load no deferred tool.
 */
import * as z from 'zod';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import type { ModelClient } from '../../lib/model/index.js';
import type { Usage } from '../../lib/task/index.js';
import { MemoryTaskStore } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import { modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { startScriptedModel } from '../helpers/scripted-model.js';

const SERVERS = 5;
const TOOLS_EACH = 30;
const TURNS = 6;

/** Tools shaped like a real MCP server's: a paragraph of description and a handful of documented arguments. */
function mcpTools(): Tool[] {
  return Array.from({ length: SERVERS * TOOLS_EACH }, (_, i) =>
    defineTool({
      name: `mcp__server${Math.floor(i / TOOLS_EACH)}__operation_${i % TOOLS_EACH}`,
      description: `Operation ${i}. ${'Reads or changes one kind of record on the remote service and returns it as JSON. '.repeat(3)}`,
      input: z.object({
        owner: z.string().describe('the account that owns the resource'),
        name: z.string().describe('the resource name'),
        query: z.string().optional().describe('a filter in the service query language'),
        limit: z.number().int().optional().describe('most results to return (default 30)'),
      }),
      run: async () => 'unused',
    }),
  );
}

const toolTokens = (tools: Array<{ defer_loading?: boolean }>) => tools.filter((t) => t.defer_loading !== true).reduce((sum, t) => sum + Math.max(1, Math.ceil(JSON.stringify(t).length / 4)), 0);

async function measure(threshold: number | false): Promise<{ firstToolTokens: number; laterCacheRead: number; laterUncached: number }> {
  const server = await startScriptedModel((req) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    return turn < TURNS ? { toolUses: [{ name: 'write_todos', input: { todos: [{ content: `step ${turn}`, status: 'in_progress' }] } }] } : { text: 'done' };
  });
  try {
    const usages: Usage[] = [];
    const inner = await modelFor(server, { toolSearchThresholdTokens: threshold });
    const model: ModelClient = { provider: inner.provider, model: inner.model, createMessage: async (r, h) => { const res = await inner.createMessage(r, h); usages.push(res.usage); return res; } };
    const store = new MemoryTaskStore();
    const taskId = await queuedTask(store, 'tool search benchmark');
    await runTask({ taskId, store, model, sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: mcpTools() });
    const later = usages.slice(1);
    const read = later.reduce((s, u) => s + u.cacheReadTokens, 0);
    const all = later.reduce((s, u) => s + u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, 0);
    const uncached = later.reduce((s, u) => s + u.inputTokens + u.cacheWriteTokens, 0);
    return { firstToolTokens: toolTokens(server.requests[0]!.body.tools), laterCacheRead: read / all, laterUncached: uncached };
  } finally {
    await server.close();
  }
}

/**
 * @example
 * const figures = await benchToolSearch();
 */
export async function benchToolSearch(): Promise<Record<string, number | string>> {
  const eager = await measure(false);
  const deferred = await measure(10_000);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return {
    [`first request tool tokens, ${SERVERS} servers x ${TOOLS_EACH} tools: tool search / eager`]: `${deferred.firstToolTokens} / ${eager.firstToolTokens}`,
    'tool search / eager (target <= 20%)': pct(deferred.firstToolTokens / eager.firstToolTokens),
    [`cache-read share of turns 2..${TURNS}: tool search / eager`]: `${pct(deferred.laterCacheRead)} / ${pct(eager.laterCacheRead)}`,
    // The share falls only because the cached prefix is 28k tokens smaller; a prefix that changed would show here.
    [`uncached input (input + cache write) of turns 2..${TURNS}: tool search / eager (target: not higher)`]: `${deferred.laterUncached} / ${eager.laterUncached}`,
  };
}
