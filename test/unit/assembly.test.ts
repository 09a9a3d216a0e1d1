import { describe, expect, it } from 'vitest';
import { approvalPolicyFor } from '../../lib/assembly/index.js';
import { loadConfig } from '../../lib/config/index.js';
import type { Tool } from '../../lib/tools/index.js';

const tool = (name: string, annotations?: Tool['annotations']): Tool => ({
  name,
  description: name,
  inputSchema: { type: 'object' },
  ...(annotations ? { annotations } : {}),
  execute: async () => ({ content: [] }),
});

/** The policy exactly as every caller gets it: from the environment, through the configuration. */
const policyOf = (env: Record<string, string>) => approvalPolicyFor(loadConfig(env).approval);

describe('the approval policy of the configuration', () => {
  it('is absent when nothing needs approval', async () => {
    expect(await policyOf({})).toBeUndefined();
  });

  it('DEEP_AGENT_APPROVE_TOOLS: named tools and globs always ask, others do not', async () => {
    const policy = (await policyOf({ DEEP_AGENT_APPROVE_TOOLS: 'run_command,mcp__github__*' }))!;
    expect(policy(tool('run_command'), {})).toBe('run_command is configured to need approval');
    expect(policy(tool('mcp__github__get_me', { readOnlyHint: true }), {})).toBe('mcp__github__get_me is configured to need approval');
    expect(policy(tool('write_file'), {})).toBeUndefined();
    // without DEEP_AGENT_APPROVAL=destructive, annotations do not matter
    expect(policy(tool('mcp__notion__delete', { destructiveHint: true }), {})).toBeUndefined();
  });

  it('DEEP_AGENT_APPROVAL=destructive: MCP tools not marked read-only ask; read-only ones and built-ins do not', async () => {
    const policy = (await policyOf({ DEEP_AGENT_APPROVAL: 'destructive' }))!;
    expect(policy(tool('mcp__notion__delete', { destructiveHint: true }), {})).toMatch(/marked destructive by its server/);
    expect(policy(tool('mcp__notion__create'), {})).toMatch(/not marked read-only/);
    expect(policy(tool('mcp__notion__search', { readOnlyHint: true }), {})).toBeUndefined();
    expect(policy(tool('run_command'), {})).toBeUndefined();
  });
});
