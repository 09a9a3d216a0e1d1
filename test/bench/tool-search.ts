/**
 * Tool search with five MCP servers of 30 tools each, in both modes beside the eager baseline (every schema sent):
 * tool tokens of the first request, and the cache-read share and uncached input of later turns. Tokens are
 * counted as the scripted server counts them (characters / 4; deferred tools are not in the prompt).
 * Each run uses one MCP tool: eager and `api` call it on turn 2 (the scripted server does not model the API's
 * server-side search, so the API mode loads nothing), `client` searches on turn 1 and calls what it found on
 * turn 2 through `call_tool`; its tools never change, so nothing is re-written.
 */
import * as z from 'zod';
import { MemoryJournal, runTask } from '../../lib/agent/index.js';
import { billedInputEquivalent, type ModelClient } from '../../lib/model/index.js';
import type { Usage } from '../../lib/task/index.js';
import { MemoryTaskStore } from '../../lib/task/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';
import { modelFor, noSandbox, queuedTask } from '../helpers/factories.js';
import { startScriptedModel, type CapturedRequest } from '../helpers/scripted-model.js';

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

type Mode = 'eager' | 'api' | 'client';
const USED = 'mcp__server2__operation_17'; // "Operation 77."

function script(mode: Mode) {
  return (req: CapturedRequest) => {
    const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
    if (turn === 1 && mode === 'client') return { toolUses: [{ name: 'search_tools', input: { query: 'operation 77', limit: 3 } }] };
    if (turn === 2) return { toolUses: [mode === 'client' ? { name: 'call_tool', input: { name: USED, input: { owner: 'o', name: 'n' } } } : { name: USED, input: { owner: 'o', name: 'n' } }] };
    return turn < TURNS ? { toolUses: [{ name: 'write_todos', input: { todos: [{ content: `step ${turn}`, status: 'in_progress' }] } }] } : { text: 'done' };
  };
}

interface Figures {
  firstToolTokens: number;
  /** cache-read / (cache-read + input + cache-write) over turns 2..TURNS */
  laterCacheRead: number;
  /** cache-read of turns 2..TURNS over the whole prompt of the turn before: 100% when nothing sent before is re-written */
  priorPromptRead: number;
  /** input + cache-write of each of turns 2..TURNS */
  laterUncached: number[];
  /** billed-equivalent input of the whole run (input + 1.25 x write + 0.1 x read) */
  billed: number;
}

async function measure(mode: Mode): Promise<Figures> {
  const server = await startScriptedModel(script(mode));
  try {
    const usages: Usage[] = [];
    const inner = await modelFor(server, mode === 'eager' ? { toolSearchThresholdTokens: false } : { toolSearch: mode });
    const model: ModelClient = { ...(inner.toolSearch ? { toolSearch: inner.toolSearch } : {}), provider: inner.provider, model: inner.model, createMessage: async (r, h) => { const res = await inner.createMessage(r, h); usages.push(res.usage); return res; } };
    const store = new MemoryTaskStore();
    const taskId = await queuedTask(store, 'tool search benchmark');
    const record = await runTask({ taskId, store, model, sandboxProvider: noSandbox, journal: new MemoryJournal(), tools: mcpTools() });
    if (record.status !== 'succeeded' || usages.length !== TURNS) throw new Error(`${mode}: ${record.status} after ${usages.length} turns`);
    const events = await store.listEvents(taskId);
    if (!events.some((e) => e.type === 'tool.result' && e.data.name === USED && e.data.ok === true)) throw new Error(`${mode}: ${USED} did not run`);
    const later = usages.slice(1);
    const read = later.reduce((s, u) => s + u.cacheReadTokens, 0);
    const all = later.reduce((s, u) => s + u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens, 0);
    const prompt = (u: Usage) => u.inputTokens + u.cacheReadTokens + u.cacheWriteTokens;
    const prior = usages.slice(0, -1).reduce((s, u) => s + prompt(u), 0);
    return { firstToolTokens: toolTokens(server.requests[0]!.body.tools), laterCacheRead: read / all, priorPromptRead: read / prior, laterUncached: later.map((u) => u.inputTokens + u.cacheWriteTokens), billed: usages.reduce((s, u) => s + billedInputEquivalent(u), 0) };
  } finally {
    await server.close();
  }
}

/**
 * @example
 * const figures = await benchToolSearch();
 */
export async function benchToolSearch(): Promise<Record<string, number | string>> {
  const eager = await measure('eager');
  const api = await measure('api');
  const client = await measure('client');
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  return {
    [`first request tool tokens, ${SERVERS} servers x ${TOOLS_EACH} tools: api / client / eager`]: `${api.firstToolTokens} / ${client.firstToolTokens} / ${eager.firstToolTokens}`,
    'first request tool tokens over eager: api / client (target <= 20%)': `${pct(api.firstToolTokens / eager.firstToolTokens)} / ${pct(client.firstToolTokens / eager.firstToolTokens)}`,
    // The share is of a prefix 28k tokens smaller, so it can only be compared beside the uncached input below.
    [`cache-read share of turns 2..${TURNS} (read / all input): api / client / eager`]: `${pct(api.laterCacheRead)} / ${pct(client.laterCacheRead)} / ${pct(eager.laterCacheRead)}`,
    [`cache-read share of the turn before's prompt, turns 2..${TURNS}: api / client / eager (target: as eager)`]: `${pct(api.priorPromptRead)} / ${pct(client.priorPromptRead)} / ${pct(eager.priorPromptRead)}`,
    [`uncached input (input + cache write) per turn, turns 2..${TURNS}: api`]: api.laterUncached.join(' '),
    // Client turn 2 carries the search's answer (the found tools' schemas): new content, not a re-write.
    [`uncached input per turn, turns 2..${TURNS}: client`]: client.laterUncached.join(' '),
    [`uncached input per turn, turns 2..${TURNS}: eager`]: eager.laterUncached.join(' '),
    [`uncached input, sum of turns 2..${TURNS}: api / client / eager (client adds the search answer once)`]: `${sum(api.laterUncached)} / ${sum(client.laterUncached)} / ${sum(eager.laterUncached)}`,
    [`billed-equivalent input of the ${TURNS}-turn task: api / client / eager`]: `${Math.round(api.billed)} / ${Math.round(client.billed)} / ${Math.round(eager.billed)}`,
  };
}
