import { describe, expect, it } from 'vitest';
import { supportsToolSearch, TOOL_SEARCH_TOOL, withCacheBreakpoints, withToolSearch, type ToolSpec } from '../../lib/model/index.js';

const schema = { type: 'object' as const, properties: { owner: { type: 'string', description: 'the account that owns the repository' }, repo: { type: 'string' } } };
const mcpTools = (servers: number, each: number): ToolSpec[] =>
  Array.from({ length: servers * each }, (_, i) => ({ name: `mcp__s${Math.floor(i / each)}__tool_${i % each}`, description: `Does thing ${i}: ${'a careful description of what it does. '.repeat(8)}`, input_schema: schema }));
const builtin: ToolSpec[] = [{ name: 'write_todos', description: 'the plan', input_schema: { type: 'object' } }, { name: 'run_command', description: 'runs a command', input_schema: { type: 'object' } }];

describe('tool search', () => {
  it('knows which models the API offers tool search on', () => {
    expect(['claude-sonnet-4-5-20250929', 'claude-opus-4-5', 'claude-sonnet-5-5', 'global.anthropic.claude-sonnet-4-5-20250929-v1:0'].map(supportsToolSearch)).toEqual([true, true, true, true]);
    expect(['claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-5-haiku-latest', 'claude-haiku-4-5'].map(supportsToolSearch)).toEqual([false, false, false, false]);
  });

  it('defers every MCP tool behind the search tool past the threshold, never a built-in one', () => {
    const tools = withToolSearch([...builtin, ...mcpTools(5, 30)], 'claude-sonnet-5-5', 10_000);
    expect(tools.slice(0, 3)).toEqual([...builtin, TOOL_SEARCH_TOOL]);
    expect(tools.slice(3)).toHaveLength(150);
    expect(tools.slice(3).every((t) => 'defer_loading' in t && t.defer_loading === true && t.name.startsWith('mcp__'))).toBe(true);
  });

  it('sends every schema below the threshold or on a model without tool search', () => {
    const few = [...builtin, ...mcpTools(1, 3)];
    expect(withToolSearch(few, 'claude-sonnet-5-5', 10_000)).toBe(few);
    const many = [...builtin, ...mcpTools(5, 30)];
    expect(withToolSearch(many, 'claude-3-5-haiku-latest', 10_000)).toBe(many);
  });

  it('puts the tools cache breakpoint on the last tool that is in the prompt, not on a deferred one', () => {
    const tools = withToolSearch([...builtin, ...mcpTools(5, 30)], 'claude-sonnet-5-5', 10_000);
    const shaped = withCacheBreakpoints({ system: 's', messages: [{ role: 'user', content: 'hi' }], tools });
    const marked = shaped.tools.flatMap((t, i) => (t.cache_control ? [i] : []));
    expect(marked).toEqual([2]);
    expect(shaped.tools[2].name).toBe(TOOL_SEARCH_TOOL.name);
  });
});
