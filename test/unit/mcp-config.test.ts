import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { describePresets, destructiveApprovalPolicy, expandVars, isDestructive, loadMcpConfigFile, MAX_TOOL_NAME_LENGTH, mcpToolName, parseMcpConfig, ToolNameAllocator, GITHUB_REMOTE_MCP_URL } from '../../lib/mcp/index.js';
import type { Tool } from '../../lib/tools/types.js';

describe('mcp tool names', () => {
  it('keeps plain names readable', () => {
    expect(mcpToolName('everything', 'get-sum')).toBe('mcp__everything__get-sum');
  });

  it('sanitises, stays within 64 characters, and keeps names that sanitise alike apart', () => {
    const dotted = mcpToolName('my.server', 'a.b');
    expect(dotted).toMatch(/^mcp__my_server__a_b_[0-9a-f]{8}$/);
    expect(mcpToolName('my_server', 'a_b')).toBe('mcp__my_server__a_b');
    const long = mcpToolName('s'.repeat(40), 't'.repeat(40));
    expect(long.length).toBeLessThanOrEqual(MAX_TOOL_NAME_LENGTH);
    expect(long).not.toBe(mcpToolName('s'.repeat(40), `${'t'.repeat(39)}u`));
    expect(mcpToolName('s'.repeat(40), 't'.repeat(40))).toBe(long); // stable
  });

  it('the allocator separates pairs that still meet', () => {
    const names = new ToolNameAllocator();
    const one = names.allocate('a__b', 'c');
    const two = names.allocate('a', 'b__c');
    expect(one).toBe('mcp__a__b__c');
    expect(two).not.toBe(one);
    expect(names.allocate('a__b', 'c')).toBe(one);
  });
});

describe('mcp config file', () => {
  it('parses stdio and HTTP servers and expands only the variables the file names', () => {
    const r = parseMcpConfig(
      JSON.stringify({
        mcpServers: {
          fs: { command: 'npx', args: ['-y', 'server-fs', '${ROOT:-/tmp}'], env: { API_KEY: '${MY_KEY}' } },
          remote: { type: 'http', url: 'https://example.com/mcp', headers: { Authorization: 'Bearer ${MY_KEY}' } },
          old: { type: 'sse', url: 'https://example.com/sse' },
          needsVar: { command: 'x', env: { T: '${UNSET_ONE}' } },
        },
      }),
      '.mcp.json',
      { MY_KEY: 'k-123', OTHER_SECRET: 'never' },
    );
    expect(r.servers.fs).toEqual({ transport: 'stdio', command: 'npx', args: ['-y', 'server-fs', '/tmp'], env: { API_KEY: 'k-123' }, source: 'config' });
    expect(r.servers.remote).toMatchObject({ transport: 'http', headers: { Authorization: 'Bearer k-123' } });
    expect(r.servers.old).toMatchObject({ transport: 'sse' });
    expect(r.disabled.needsVar).toMatch(/UNSET_ONE is not set/);
    expect(JSON.stringify(r)).not.toContain('never');
  });

  it('says which file and which entry is wrong, in one line', () => {
    expect(() => parseMcpConfig('{', 'cfg.json', {})).toThrow(/^cfg\.json: not valid JSON/);
    expect(() => parseMcpConfig('{"servers":{}}', 'cfg.json', {})).toThrow(/cfg\.json: mcpServers: /);
    expect(() => parseMcpConfig('{"mcpServers":{"x":{"args":[]}}}', 'cfg.json', {})).toThrow(/cfg\.json: mcpServers\.x: needs either "command"/);
    expect(() => parseMcpConfig('{"mcpServers":{"x":{"url":"ftp://a"}}}', 'cfg.json', {})).toThrow(/mcpServers\.x\.url: url must be an http\(s\) URL/);
    expect(() => parseMcpConfig('{"mcpServers":{"x":{"command":"a","args":"b"}}}', 'cfg.json', {})).toThrow(/mcpServers\.x\.args/);
    expect(() => loadMcpConfigFile('/nonexistent/.mcp.json', {})).toThrow(/\/nonexistent\/\.mcp\.json: cannot read the MCP config file \(ENOENT\)/);
  });

  it('reads a file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-cfg-'));
    writeFileSync(join(dir, '.mcp.json'), '{"mcpServers":{"m":{"command":"node"}}}');
    expect(loadMcpConfigFile(join(dir, '.mcp.json'), {}).servers.m).toMatchObject({ command: 'node', args: [], env: {} });
  });

  it('expandVars leaves unnamed text alone', () => {
    expect(expandVars('$HOME and ${A}', { A: '1', HOME: '/h' })).toEqual({ value: '$HOME and 1', missing: [], secrets: ['1'] });
  });

  it('names every value a ${VAR} took from the environment as a secret, whatever the variable is called, but not HOME', () => {
    // prepare: a value assembled at run time, under names that do not look secret
    const value = ['opaque', 'value', String(Date.now())].join('-');
    const text = JSON.stringify({
      mcpServers: {
        s: { command: 'node', args: ['--home', '${HOME}/x'], env: { UPSTREAM: '${PLAIN_NAME}' } },
        h: { url: 'https://example.test/${DEFAULTED:-fallback-default}', headers: { 'X-Thing': 'v=${PLAIN_NAME}' } },
      },
    });
    // act
    const resolved = parseMcpConfig(text, '.mcp.json', { PLAIN_NAME: value, HOME: '/home/someone' });
    // assess
    expect(resolved.secrets).toEqual([value, value]);
    expect(resolved.secrets).not.toContain('/home/someone');
    expect(resolved.secrets).not.toContain('fallback-default');
  });
});

describe('presets', () => {
  const cfg = (env: Record<string, string>) => loadConfig(env, tmpdir());

  it('attach nothing without tokens and say why', () => {
    expect(describePresets(cfg({}))).toEqual([
      { name: 'github', attached: false, reason: 'GITHUB_TOKEN is not set' },
      { name: 'notion', attached: false, reason: 'NOTION_TOKEN is not set' },
    ]);
  });

  it('GitHub uses the remote server over HTTP with the token as bearer by default', () => {
    const [github] = describePresets(cfg({ GITHUB_TOKEN: 'ghp_test' }));
    expect(github).toMatchObject({ attached: true, spec: { transport: 'http', url: GITHUB_REMOTE_MCP_URL, headers: { Authorization: 'Bearer ghp_test' } } });
  });

  it('GitHub uses the npm stdio server with DEEP_AGENT_GITHUB_MCP=stdio, token only in its env', () => {
    const [github] = describePresets(cfg({ GITHUB_TOKEN: 'ghp_test', DEEP_AGENT_GITHUB_MCP: 'stdio' }));
    expect(github!.spec).toEqual({ transport: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_test' }, source: 'preset' });
    expect(() => describePresets(cfg({ GITHUB_TOKEN: 'x', DEEP_AGENT_GITHUB_MCP: 'ws' }))).toThrow(/DEEP_AGENT_GITHUB_MCP must be/);
  });

  it('Notion runs @notionhq/notion-mcp-server over stdio with NOTION_TOKEN', () => {
    const [, notion] = describePresets(cfg({ NOTION_TOKEN: 'ntn_test' }));
    expect(notion!.spec).toEqual({ transport: 'stdio', command: 'npx', args: ['-y', '@notionhq/notion-mcp-server'], env: { NOTION_TOKEN: 'ntn_test' }, source: 'preset' });
  });

  it('a { url, headers } override (E2B gateway) replaces the transport', () => {
    const overrides = { github: { url: 'https://gw.example/mcp', headers: { Authorization: 'Bearer gw' } } };
    expect(describePresets(cfg({ GITHUB_TOKEN: 'g' }), { overrides })[0]!.spec).toMatchObject({ transport: 'http', url: 'https://gw.example/mcp', headers: { Authorization: 'Bearer gw' } });
    expect(describePresets(cfg({}), { overrides })[0]!.attached).toBe(false);
  });
});

describe('destructive approval policy', () => {
  const tool = (name: string, annotations?: Tool['annotations']) => ({ name, annotations }) as Tool;
  it('follows the MCP defaults: unannotated tools are destructive, read-only ones never', () => {
    expect(isDestructive(tool('x'))).toBe(true);
    expect(isDestructive(tool('x', { readOnlyHint: true, destructiveHint: true }))).toBe(false);
    expect(isDestructive(tool('x', { readOnlyHint: false, destructiveHint: false }))).toBe(false);
  });

  it('asks for destructive MCP tools and honours name globs', () => {
    const policy = destructiveApprovalPolicy({ never: ['mcp__gh__get_*'], always: ['mcp__notion__*'] });
    expect(policy(tool('mcp__gh__delete_repo', { destructiveHint: true }), {})).toMatch(/destructive/);
    expect(policy(tool('mcp__gh__get_file'), {})).toBeUndefined();
    expect(policy(tool('mcp__gh__list', { readOnlyHint: true }), {})).toBeUndefined();
    expect(policy(tool('mcp__notion__search', { readOnlyHint: true }), {})).toMatch(/configured/);
    expect(policy(tool('run_command'), {})).toBeUndefined();
  });
});

describe('resolveMcpServers', () => {
  it('merges the config file and presets; a file entry wins over a preset of the same name', async () => {
    const { resolveMcpServers } = await import('../../lib/mcp/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'mcp-res-'));
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { github: { url: 'http://127.0.0.1:1/mcp' }, fs: { command: 'node' } } }));
    const r = resolveMcpServers(loadConfig({ GITHUB_TOKEN: 'ghp_x' }, dir));
    expect(r.servers.github).toMatchObject({ transport: 'http', url: 'http://127.0.0.1:1/mcp', source: 'config' });
    expect(r.servers.fs).toMatchObject({ transport: 'stdio' });
    expect(r.disabled).toEqual({ notion: 'NOTION_TOKEN is not set' });
  });
});
