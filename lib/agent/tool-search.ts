/**
 * Client-side tool search, for a model client in `client` mode (Bedrock, older models, a proxy that rejects the
 * API's tool search): past the threshold, MCP tools are withheld from the request and two built-in tools stand
 * in for them: `search_tools` finds them by BM25 over name and description and returns each match's input
 * schema, and `call_tool` calls one by name. The request's tools never change, so the cached prefix (tools,
 * system, conversation) holds turn after turn; appending the found tools instead would re-write all of it once
 * per search, as tools come first in the prompt. The loop unwraps a `call_tool` call into a call of the tool it
 * names, so events, approvals and the journal see that tool. A withheld tool the model calls by its own name
 * runs too.
 */
import * as z from 'zod';
import { isMcpToolName, mcpSchemaTokens, type ModelClient } from '../model/index.js';
import { defineTool, toToolSpec, type Tool } from '../tools/index.js';

export const SEARCH_TOOLS = 'search_tools';
export const CALL_TOOL = 'call_tool';
const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 20;

/** Lower-case words of a name or text: `mcp__github__create_issue` and `createIssue` both give create, issue. */
function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 1);
}

interface Indexed {
  tool: Tool;
  counts: Map<string, number>;
  length: number;
}

/**
 * BM25 (k1 1.2, b 0.75) over each tool's name and description; the name counts twice, as it says most. Ties keep
 * catalog order, so a search is deterministic.
 *
 * @example
 * const found = rankTools(tools, 'create an issue', 5);
 */
export function rankTools(tools: readonly Tool[], query: string, limit: number): Tool[] {
  const docs: Indexed[] = tools.map((tool) => {
    const ws = [...words(tool.name.replace(/^mcp__/, '')), ...words(tool.name.replace(/^mcp__/, '')), ...words(tool.description)];
    const counts = new Map<string, number>();
    for (const w of ws) counts.set(w, (counts.get(w) ?? 0) + 1);
    return { tool, counts, length: ws.length };
  });
  const avg = docs.reduce((s, d) => s + d.length, 0) / Math.max(1, docs.length);
  const terms = [...new Set(words(query))];
  const idf = new Map(terms.map((t) => {
    const n = docs.filter((d) => d.counts.has(t)).length;
    return [t, Math.log(1 + (docs.length - n + 0.5) / (n + 0.5))];
  }));
  return docs
    .map((d, i) => {
      let score = 0;
      for (const t of terms) {
        const f = d.counts.get(t) ?? 0;
        if (f > 0) score += idf.get(t)! * ((f * 2.2) / (f + 1.2 * (0.25 + (0.75 * d.length) / avg)));
      }
      return { d, i, score };
    })
    .filter((r) => r.score > 0)
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, limit)
    .map((r) => r.d.tool);
}

/** The withheld tools of one run and the two tools that stand in for them. */
export interface ClientToolSearch {
  /** Withheld MCP tools by name. */
  deferred: Map<string, Tool>;
  /** `search_tools`, then `call_tool`. */
  tools: [Tool, Tool];
}

/** The input of a `call_tool` call, as the loop unwraps it. */
export const CallToolInputSchema = z.object({
  name: z.string().min(1).describe('the tool\'s full name, as search_tools gave it (e.g. "mcp__github__create_issue")'),
  input: z.record(z.string(), z.unknown()).optional().describe('the tool\'s arguments, matching the input schema search_tools gave'),
});

/**
 * The call a `call_tool` use stands for (same id, the named tool and its arguments), or undefined when `use` is
 * not one or its input does not parse (then `call_tool` itself answers with the error).
 *
 * @example
 * const inner = unwrapCallTool({ id: 'toolu_1', name: 'call_tool', input: { name: 'mcp__gh__get', input: {} } });
 */
export function unwrapCallTool<U extends { id: string; name: string; input: unknown }>(use: U): U | undefined {
  if (use.name !== CALL_TOOL) return undefined;
  const parsed = CallToolInputSchema.safeParse(use.input);
  return parsed.success ? { ...use, name: parsed.data.name, input: parsed.data.input ?? {} } : undefined;
}

/**
 * The client-side tool search of a run, when the model client asks for it and the MCP tools among `tools` pass
 * its threshold; undefined otherwise (every schema is sent, or the client uses the API's tool search).
 *
 * @example
 * const search = clientToolSearch(model, tools); // search?.tool is `search_tools`
 */
export function clientToolSearch(model: ModelClient, tools: readonly Tool[]): ClientToolSearch | undefined {
  const plan = model.toolSearch;
  if (plan?.mode !== 'client') return undefined;
  const mcp = tools.filter((t) => isMcpToolName(t.name));
  if (mcp.length === 0 || mcpSchemaTokens(mcp.map(toToolSpec)) <= plan.thresholdTokens) return undefined;
  const deferred = new Map(mcp.map((t) => [t.name, t]));
  const search = defineTool({
    name: SEARCH_TOOLS,
    description:
      `Finds tools of the connected MCP servers (${mcp.length} of them, not listed here to save context) by what they do. ` +
      `Returns the best matches with their input schemas; call one with ${CALL_TOOL}.`,
    input: z.object({
      query: z.string().min(1).describe('what the tool should do, in a few words (e.g. "create a GitHub issue")'),
      limit: z.number().int().min(1).max(MAX_LIMIT).optional().describe(`most tools to return (default ${DEFAULT_LIMIT})`),
    }),
    annotations: { readOnlyHint: true },
    run: async ({ query, limit }) => {
      const found = rankTools([...deferred.values()], query, limit ?? DEFAULT_LIMIT);
      if (found.length === 0) return { content: [{ type: 'text', text: `no tool matches "${query}"; try other words.` }] };
      const entries = found.map((t) => `- ${t.name}: ${t.description}\n  input schema: ${JSON.stringify(t.inputSchema)}`);
      return { content: [{ type: 'text', text: `${found.length} tools; call one with ${CALL_TOOL} {"name": ..., "input": {...}}:\n${entries.join('\n')}` }] };
    },
  });
  const call = defineTool({
    name: CALL_TOOL,
    description: `Calls a tool that ${SEARCH_TOOLS} found, by its full name, with arguments matching its input schema.`,
    input: CallToolInputSchema,
    // The loop runs the named tool in this one's place, under that tool's own approvals; this answers only a
    // name it does not know.
    run: async ({ name }) => ({ content: [{ type: 'text', text: `no tool named ${name}: find one with ${SEARCH_TOOLS} first.` }], isError: true }),
  });
  return { deferred, tools: [search, call] };
}
