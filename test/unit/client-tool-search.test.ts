import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { clientToolSearch, rankTools, unwrapCallTool } from '../../lib/agent/tool-search.js';
import { loadConfig } from '../../lib/config/index.js';
import { resolveToolSearch, type ModelClient, type ToolSearchPlan } from '../../lib/model/index.js';
import { defineTool, type Tool } from '../../lib/tools/index.js';

const tool = (name: string, description: string): Tool => defineTool({ name, description, input: z.object({ id: z.string() }), run: async () => 'ok' });
const catalog = [
  tool('mcp__github__create_issue', 'Create a new issue in a GitHub repository.'),
  tool('mcp__github__list_pull_requests', 'List pull requests of a repository.'),
  tool('mcp__slack__post_message', 'Post a message to a Slack channel.'),
  tool('mcp__linear__createIssue', 'Open a ticket in a Linear team.'),
];
const model = (toolSearch?: ToolSearchPlan): ModelClient => ({ provider: 'bedrock', model: 'm', ...(toolSearch ? { toolSearch } : {}), createMessage: async () => { throw new Error('unused'); } });
const many = Array.from({ length: 150 }, (_, i) => tool(`mcp__s${Math.floor(i / 30)}__op_${i % 30}`, `Operation ${i}. ${'Reads or changes a record. '.repeat(12)}`));

describe('client-side tool search', () => {
  it('ranks tools by their name and description words, best first, catalog order on a tie', () => {
    expect(rankTools(catalog, 'create issue', 5).map((t) => t.name)).toEqual(['mcp__github__create_issue', 'mcp__linear__createIssue']);
    expect(rankTools(catalog, 'slack message', 1).map((t) => t.name)).toEqual(['mcp__slack__post_message']);
    expect(rankTools(catalog, 'kubernetes', 5)).toEqual([]);
  });

  it('withholds MCP tools only in client mode and past the threshold', () => {
    expect(clientToolSearch(model(), many)).toBeUndefined();
    expect(clientToolSearch(model({ mode: 'api', thresholdTokens: 10_000 }), many)).toBeUndefined();
    expect(clientToolSearch(model({ mode: 'client', thresholdTokens: 10_000 }), catalog)).toBeUndefined();
    const search = clientToolSearch(model({ mode: 'client', thresholdTokens: 10_000 }), many)!;
    expect(search.deferred.size).toBe(150);
    expect(search.tools.map((t) => t.name)).toEqual(['search_tools', 'call_tool']);
  });

  it('returns what it found with each input schema, for call_tool to call', async () => {
    const [search, call] = clientToolSearch(model({ mode: 'client', thresholdTokens: 0 }), catalog)!.tools;
    const out = await search.execute({ query: 'a github issue', limit: 2 }, {} as never);
    const text = (out.content[0] as { text: string }).text;
    expect(text).toContain('mcp__github__create_issue: Create a new issue');
    expect(text).toContain(`input schema: ${JSON.stringify(catalog[0]!.inputSchema)}`);
    expect(text).toContain('mcp__linear__createIssue');
    expect(text).not.toContain('mcp__slack__post_message');
    await expect(search.execute({ query: '' }, {} as never)).rejects.toThrow(/invalid input for search_tools/);
    // Run by itself (the loop found no tool of that name), call_tool says so.
    const unknown = await call.execute({ name: 'mcp__nope__x', input: {} }, {} as never);
    expect(unknown).toMatchObject({ isError: true, content: [{ text: expect.stringContaining('no tool named mcp__nope__x') }] });
  });

  it('unwraps a call_tool use into the call it names, keeping its id', () => {
    expect(unwrapCallTool({ id: 'toolu_1', name: 'call_tool', input: { name: 'mcp__gh__get', input: { id: '7' } } })).toEqual({ id: 'toolu_1', name: 'mcp__gh__get', input: { id: '7' } });
    expect(unwrapCallTool({ id: 'toolu_2', name: 'call_tool', input: { name: 'mcp__gh__list' } })).toEqual({ id: 'toolu_2', name: 'mcp__gh__list', input: {} });
    expect(unwrapCallTool({ id: 'toolu_3', name: 'call_tool', input: { input: {} } })).toBeUndefined();
    expect(unwrapCallTool({ id: 'toolu_4', name: 'mcp__gh__get', input: {} })).toBeUndefined();
  });

  it('resolves DEEP_AGENT_TOOL_SEARCH=auto to the API search where the API has it, else to the client search', () => {
    expect(resolveToolSearch('auto', 'anthropic', 'claude-sonnet-4-5')).toBe('api');
    expect(resolveToolSearch('auto', 'anthropic', 'claude-3-5-haiku-latest')).toBe('client');
    expect(resolveToolSearch('auto', 'bedrock', 'global.anthropic.claude-sonnet-4-5')).toBe('client');
    expect(resolveToolSearch('api', 'bedrock', 'x')).toBe('api');
    expect(resolveToolSearch('off', 'anthropic', 'claude-sonnet-4-5')).toBe('off');
    expect(loadConfig({}).model.toolSearch).toBe('auto');
    expect(loadConfig({ DEEP_AGENT_TOOL_SEARCH: 'client' }).model.toolSearch).toBe('client');
    expect(() => loadConfig({ DEEP_AGENT_TOOL_SEARCH: 'bm25' })).toThrow(/DEEP_AGENT_TOOL_SEARCH must be one of auto, api, client, off/);
  });
});
