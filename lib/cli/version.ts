/** The package's version, from its package.json: found by walking up from this file, wherever a build put it. */
import { readFileSync } from 'node:fs';

function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'deep-agent-e2b' && pkg.version) return pkg.version;
    } catch {
      // no package.json at this level: keep walking up
    }
    if (dir.pathname === '/') return 'unknown';
  }
}

export const VERSION = packageVersion();
