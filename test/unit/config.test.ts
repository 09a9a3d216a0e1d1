import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, requireAwsSettings, requireModelCredentials, requireSandboxCredentials } from '../../lib/config/index.js';
import { DEFAULT_MODEL } from '../../lib/config/index.js';

describe('configuration', () => {
  it('defaults: anthropic provider, local sandbox, ./.deep-agent home, the default model, serve settings', () => {
    const c = loadConfig({}, '/tmp/proj');
    expect(c).toMatchObject({
      home: '/tmp/proj/.deep-agent',
      model: { provider: 'anthropic', id: DEFAULT_MODEL },
      sandbox: { provider: 'local' },
      mcp: { githubTransport: 'http', notionTransport: 'stdio' },
      approval: { destructive: false, tools: [] },
      serve: { concurrency: 2, visibilityTimeoutSeconds: 60, maxAttempts: 3, retryDelaySeconds: 1 },
      cli: { debug: false },
    });
    expect(c.mcp.configPath).toBeUndefined();
  });

  it('picks e2b when E2B_API_KEY is set, unless DEEP_AGENT_SANDBOX says otherwise', () => {
    expect(loadConfig({ E2B_API_KEY: 'e2b_x' }).sandbox.provider).toBe('e2b');
    expect(loadConfig({ E2B_API_KEY: 'e2b_x', DEEP_AGENT_SANDBOX: 'local' }).sandbox.provider).toBe('local');
  });

  it('rejects unknown values with one line naming the variable and the value', () => {
    expect(() => loadConfig({ DEEP_AGENT_SANDBOX: 'docker' })).toThrow(/^DEEP_AGENT_SANDBOX must be one of local, e2b, unsafe-local, not "docker"\.$/);
    expect(() => loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'openai' })).toThrow(/^DEEP_AGENT_MODEL_PROVIDER must be "anthropic" or "bedrock", not "openai"\.$/);
    expect(() => loadConfig({ DEEP_AGENT_WORKER_CONCURRENCY: '0' })).toThrow(/^DEEP_AGENT_WORKER_CONCURRENCY must be a whole number >= 1, not "0"/);
    expect(() => loadConfig({ DEEP_AGENT_RETRY_DELAY_SECONDS: '1.5' })).toThrow(/^DEEP_AGENT_RETRY_DELAY_SECONDS must be a whole number >= 0/);
    expect(() => loadConfig({ DEEP_AGENT_E2B_MAX_LIFETIME: '-3' })).toThrow(/^DEEP_AGENT_E2B_MAX_LIFETIME must be a positive whole number, not "-3"/);
    expect(() => loadConfig({ DEEP_AGENT_APPROVAL: 'all' })).toThrow(/^DEEP_AGENT_APPROVAL must be "none" or "destructive"/);
    expect(() => loadConfig({ DEEP_AGENT_NOTION_MCP: 'http' })).toThrow(/^DEEP_AGENT_NOTION_MCP must be "stdio" or "e2b"/);
  });

  it('names the missing key and what it unlocks', () => {
    expect(() => requireModelCredentials(loadConfig({}))).toThrow(/^ANTHROPIC_API_KEY is not set: it is needed for calls to Claude/);
    expect(() => requireModelCredentials(loadConfig({ ANTHROPIC_AUTH_TOKEN: 'bearer-token' }))).not.toThrow();
    expect(() => requireModelCredentials(loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'bedrock' }))).not.toThrow();
    expect(() => requireSandboxCredentials(loadConfig({ DEEP_AGENT_SANDBOX: 'e2b' }))).toThrow(/^E2B_API_KEY is not set/);
    expect(() => requireAwsSettings(loadConfig({ TASK_BUCKET: 'b' }), ['taskBucket', 'secretArn'])).toThrow(/^SECRET_ARN is not set: it is needed for reading the Anthropic/);
    expect(requireAwsSettings(loadConfig({ TASK_BUCKET: ' b ' }), ['taskBucket'])).toEqual({ taskBucket: 'b' });
  });

  it('honours DEEP_AGENT_MODEL, ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN and the AWS region alias', () => {
    const c = loadConfig({ DEEP_AGENT_MODEL: 'claude-haiku-4-5', ANTHROPIC_BASE_URL: 'http://proxy:1', ANTHROPIC_AUTH_TOKEN: 't', AWS_DEFAULT_REGION: 'eu-west-1' });
    expect(c.model).toMatchObject({ id: 'claude-haiku-4-5', anthropicBaseUrl: 'http://proxy:1', anthropicAuthToken: 't', awsRegion: 'eu-west-1' });
    expect(loadConfig({ AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'eu-west-1' }).model.awsRegion).toBe('us-east-1');
  });

  it('resolves paths against the working directory and splits the approval list', () => {
    const c = loadConfig({ DEEP_AGENT_HOME: 'state', DEEP_AGENT_MCP_CONFIG: 'cfg/mcp.json', DEEP_AGENT_MCP_CATALOG: 'cat.json', DEEP_AGENT_APPROVE_TOOLS: ' run_command, mcp__github__* ,', DEEP_AGENT_APPROVAL: 'destructive' }, '/srv/p');
    expect(c.home).toBe('/srv/p/state');
    expect(c.mcp).toMatchObject({ configPath: '/srv/p/cfg/mcp.json', catalogPath: '/srv/p/cat.json' });
    expect(c.approval).toEqual({ destructive: true, tools: ['run_command', 'mcp__github__*'] });
  });

  it('treats a blank value as unset', () => {
    expect(loadConfig({ DEEP_AGENT_SANDBOX: '  ', DEEP_AGENT_WORKER_CONCURRENCY: '' }, '/tmp/proj')).toMatchObject({ sandbox: { provider: 'local' }, serve: { concurrency: 2 } });
  });
});

describe('the default model', () => {
  // Read the installed SDK's own Model union and deprecation table, so an SDK upgrade that adds a newer Sonnet
  // or deprecates ours fails here.
  const require = createRequire(import.meta.url);
  const sdkDir = dirname(require.resolve('@anthropic-ai/sdk'));
  const dts = readFileSync(join(sdkDir, 'resources/messages/messages.d.ts'), 'utf8');
  const mjs = readFileSync(join(sdkDir, 'resources/messages/messages.mjs'), 'utf8');
  const models = [...dts.match(/export type Model = ([^;]+);/)![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const deprecated = new Set([...(mjs.match(/const DEPRECATED_MODELS = \{([^}]*)\}/)?.[1] ?? '').matchAll(/'([^']+)':/g)].map((m) => m[1]!));

  const version = (id: string) => id.replace(/^claude-sonnet-/, '').split('-').filter((p) => /^\d{1,2}$/.test(p)).map(Number);
  const newer = (a: number[], b: number[]) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return false;
  };

  it('is the newest Sonnet the SDK lists, and not deprecated', () => {
    const sonnets = models.filter((m) => m.startsWith('claude-sonnet-') && !/-\d{8}$/.test(m) && !deprecated.has(m));
    expect(sonnets).toContain(DEFAULT_MODEL);
    for (const s of sonnets) expect(newer(version(s), version(DEFAULT_MODEL)), `${s} is newer than ${DEFAULT_MODEL}`).toBe(false);
    expect(deprecated.has('claude-sonnet-4-5')).toBe(true);
  });
});
