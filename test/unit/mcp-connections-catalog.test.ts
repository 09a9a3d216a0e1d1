import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialEnv, loadCatalog } from '../../lib/mcp-connections/index.js';

describe('MCP connection catalog', () => {
  it('extends and overrides the built-ins from a file, and reports a bad entry in one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ definitions: [{ id: 'memory', title: 'Mine', startCommand: { command: 'x' } }, { id: 'extra', title: 'Extra', startCommand: { command: 'y', args: ['1'] } }] }));
    const catalog = loadCatalog(good);
    expect(catalog.find((d) => d.id === 'memory')!.title).toBe('Mine');
    expect(catalog.find((d) => d.id === 'extra')).toMatchObject({ credentialSchema: {}, network: false, defaultTimeoutSeconds: 3600 });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ definitions: [{ id: 'Bad Id', title: 'x', startCommand: { command: 'x' } }] }));
    expect(() => loadCatalog(bad)).toThrow(/definitions\.0\.id/);
  });

  it('maps credentials to env and names missing or unknown fields without values', () => {
    const github = loadCatalog().find((d) => d.id === 'github')!;
    expect(credentialEnv(github, { GITHUB_PERSONAL_ACCESS_TOKEN: 't0k' })).toEqual({ GITHUB_PERSONAL_ACCESS_TOKEN: 't0k' });
    expect(() => credentialEnv(github, {})).toThrow(/needs the credential GITHUB_PERSONAL_ACCESS_TOKEN/);
    try {
      credentialEnv(github, { GITHUB_PERSONAL_ACCESS_TOKEN: 'a', OTHER: 'secret-value' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain('"OTHER"');
      expect((e as Error).message).not.toContain('secret-value');
    }
  });
});
