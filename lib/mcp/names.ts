/** Model-facing MCP tool names: `mcp__<server>__<tool>`, within 64 characters, stable across processes. */
import { createHash } from 'node:crypto';

/** Longest tool name the Anthropic API accepts. */
export const MAX_TOOL_NAME_LENGTH = 64;

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 8);
const sanitise = (s: string): string => s.replace(/[^a-zA-Z0-9_-]/g, '_');

/**
 * The model-facing name of an MCP tool. Deterministic, so a resumed task sees the same names.
 *
 * Characters outside `[a-zA-Z0-9_-]` become `_`; when that changed anything, or the name is longer than 64
 * characters, a short hash of the original pair is appended, so `a.b` and `a_b` never share a name.
 *
 * @example
 * mcpToolName('everything', 'get-sum'); // 'mcp__everything__get-sum'
 */
export function mcpToolName(server: string, tool: string): string {
  const plain = `mcp__${sanitise(server)}__${sanitise(tool)}`;
  const changed = sanitise(server) !== server || sanitise(tool) !== tool;
  if (!changed && plain.length <= MAX_TOOL_NAME_LENGTH) return plain;
  const suffix = `_${shortHash(`${server}\u0000${tool}`)}`;
  return plain.slice(0, Math.min(plain.length, MAX_TOOL_NAME_LENGTH - suffix.length)) + suffix;
}

/**
 * Hands out names that are unique within one hub, even in the rare case where two pairs still meet
 * (server `a__b` + tool `c` against server `a` + tool `b__c`).
 *
 * @example
 * const names = new ToolNameAllocator();
 * names.allocate('github', 'search'); // 'mcp__github__search'
 */
export class ToolNameAllocator {
  private owners = new Map<string, string>();

  allocate(server: string, tool: string): string {
    const key = `${server}\u0000${tool}`;
    let name = mcpToolName(server, tool);
    for (let i = 1; this.owners.has(name) && this.owners.get(name) !== key; i++) {
      const suffix = `_${shortHash(`${key}\u0000${i}`)}`;
      name = name.slice(0, Math.min(name.length, MAX_TOOL_NAME_LENGTH - suffix.length)) + suffix;
    }
    this.owners.set(name, key);
    return name;
  }

  /** Forgets every name of one server (before its tool list is refreshed). */
  releaseServer(server: string): void {
    for (const [name, key] of this.owners) if (key.startsWith(`${server}\u0000`)) this.owners.delete(name);
  }
}
