import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, requireModelCredentials, requireSandboxCredentials } from '../../lib/config/index.js';
import { DEFAULT_MODEL } from '../../lib/model/index.js';

describe('configuration', () => {
  it('defaults: anthropic provider, local sandbox, ./.deep-agent home, the default model', () => {
    const c = loadConfig({}, '/tmp/proj');
    expect(c).toMatchObject({ modelProvider: 'anthropic', sandbox: 'local', home: '/tmp/proj/.deep-agent', model: DEFAULT_MODEL });
  });

  it('picks e2b when E2B_API_KEY is set, unless DEEP_AGENT_SANDBOX says otherwise', () => {
    expect(loadConfig({ E2B_API_KEY: 'e2b_x' }).sandbox).toBe('e2b');
    expect(loadConfig({ E2B_API_KEY: 'e2b_x', DEEP_AGENT_SANDBOX: 'local' }).sandbox).toBe('local');
  });

  it('rejects unknown values with one line naming the variable', () => {
    expect(() => loadConfig({ DEEP_AGENT_SANDBOX: 'docker' })).toThrow(/DEEP_AGENT_SANDBOX must be one of/);
    expect(() => loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'openai' })).toThrow(/DEEP_AGENT_MODEL_PROVIDER/);
  });

  it('names the missing key and what it unlocks', () => {
    expect(() => requireModelCredentials(loadConfig({}))).toThrow(/^ANTHROPIC_API_KEY is not set: it is needed for calls to Claude/);
    expect(() => requireModelCredentials(loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'bedrock' }))).not.toThrow();
    expect(() => requireSandboxCredentials(loadConfig({ DEEP_AGENT_SANDBOX: 'e2b' }))).toThrow(/^E2B_API_KEY is not set/);
  });

  it('honours DEEP_AGENT_MODEL and ANTHROPIC_BASE_URL', () => {
    const c = loadConfig({ DEEP_AGENT_MODEL: 'claude-haiku-4-5', ANTHROPIC_BASE_URL: 'http://proxy:1' });
    expect(c.model).toBe('claude-haiku-4-5');
    expect(c.anthropicBaseUrl).toBe('http://proxy:1');
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
