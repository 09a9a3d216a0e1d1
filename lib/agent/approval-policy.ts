/**
 * Which tool calls need a person: by tool name globs, and by MCP annotations (a tool not marked read-only may
 * destroy something). The approval protocol itself (ask, park, resume) is in `approvals.ts`.
 */
import type { Tool } from '../tools/index.js';
import type { ApprovalPolicy } from './types.js';

export interface DestructiveApprovalOptions {
  /** Tool name globs (`*` matches anything) that always need approval, whatever their annotations say. */
  always?: string[];
  /** Tool name globs that never need approval (wins over `always` and annotations). */
  never?: string[];
  /**
   * Which tools the annotation rule looks at. @default ['mcp__*'] (built-in tools have their own rules)
   */
  scope?: string[];
}

const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
const matchesAny = (name: string, globs: string[]) => globs.some((g) => globToRegExp(g).test(name));

/**
 * True when a tool's annotations say it may destroy something. Follows the MCP spec's defaults:
 * `destructiveHint` defaults to true, and is only meaningful when `readOnlyHint` is false (its default), so
 * a tool without annotations counts as destructive, and a read-only tool never does.
 *
 * @example
 * isDestructive({ annotations: { readOnlyHint: true } } as Tool); // false
 */
export function isDestructive(tool: Pick<Tool, 'annotations'>): boolean {
  const a = tool.annotations ?? {};
  if (a.readOnlyHint === true) return false;
  return a.destructiveHint ?? true;
}

/**
 * An approval policy that asks a person before a destructive MCP tool runs.
 *
 * @example
 * const approvalPolicy = destructiveApprovalPolicy({ never: ['mcp__github__get_*'], always: ['mcp__notion__*'] });
 */
export function destructiveApprovalPolicy(options: DestructiveApprovalOptions = {}): ApprovalPolicy {
  const scope = options.scope ?? ['mcp__*'];
  return (tool) => {
    if (options.never && matchesAny(tool.name, options.never)) return undefined;
    if (options.always && matchesAny(tool.name, options.always)) return `${tool.name} is configured to need approval`;
    if (!matchesAny(tool.name, scope)) return undefined;
    if (!isDestructive(tool)) return undefined;
    return tool.annotations?.destructiveHint === true
      ? `${tool.name} is marked destructive by its server`
      : `${tool.name} is not marked read-only by its server, so MCP treats it as possibly destructive`;
  };
}

/**
 * The one approval policy of a configuration (`DEEP_AGENT_APPROVE_TOOLS` globs always ask; with
 * `DEEP_AGENT_APPROVAL=destructive`, MCP tools not marked read-only ask too); undefined when nothing asks.
 *
 * @example
 * const policy = approvalPolicyFor({ destructive: true, tools: ['run_command'] });
 */
export function approvalPolicyFor(approval: { destructive: boolean; tools: string[] }): ApprovalPolicy | undefined {
  if (!approval.destructive && approval.tools.length === 0) return undefined;
  return destructiveApprovalPolicy({ always: approval.tools, scope: approval.destructive ? ['mcp__*'] : [] });
}
