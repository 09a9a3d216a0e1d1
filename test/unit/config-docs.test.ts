import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { declaredVariables, renderEnvironmentTable, SECRET_VARIABLES } from '../../lib/config/index.js';
import { ENV_TABLE_END, ENV_TABLE_START } from '../../lib/config/env-table.js';
import { SECRET_ENV_NAMES } from '../../lib/secrets/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Variables read by code that is not ours to document: set by the CDK CLI (bin/app.ts) and by npm (bin/deep-agent.ts). */
const SET_BY_TOOLS = new Set(['CDK_DEFAULT_ACCOUNT', 'CDK_DEFAULT_REGION', 'INIT_CWD']);
/** The host's own basics, which `doctor` reads to find bwrap and `~/.aws`: every program has them, nobody sets them for us. */
const HOST_BASICS = new Set(['PATH', 'HOME']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every `process.env.X`, `env.X`, `env['X']` in lib/ (but the schema), lambdas/ and bin/, comments included. */
function variablesReadInSource(): Map<string, string> {
  const read = new Map<string, string>();
  const files = ['lib', 'lambdas', 'bin'].flatMap((d) => sourceFiles(join(ROOT, d))).filter((f) => !relative(ROOT, f).startsWith('lib/config/'));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]+)\b|\[\s*['"]([A-Z][A-Z0-9_]+)['"]\s*\])/g)) read.set(m[1] ?? m[2]!, relative(ROOT, file));
  }
  // What the stack sets on its functions is read by them.
  const stack = readFileSync(join(ROOT, 'lib/infra/stack.ts'), 'utf8');
  for (const m of stack.matchAll(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):\s/g)) read.set(m[1]!, 'lib/infra/stack.ts (a function environment)');
  return read;
}

const declaredNames = () => new Set(declaredVariables().flatMap((v) => [v.name, ...(v.aliases ?? [])]));

describe('the environment table and the configuration schema', () => {
  it('the README table is the one the schema renders (run npm run docs:env after changing the schema)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf(ENV_TABLE_START);
    const end = readme.indexOf(ENV_TABLE_END);
    expect(start, 'README.md has the table markers').toBeGreaterThanOrEqual(0);
    expect(readme.slice(start + ENV_TABLE_START.length, end).trim()).toBe(renderEnvironmentTable());
  });

  it('documents every declared variable once, and nothing else', () => {
    const table = renderEnvironmentTable();
    const rows = table.split('\n').slice(2).map((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
    const documented = rows.flat();
    expect(new Set(documented).size).toBe(documented.length);
    expect(new Set(documented)).toEqual(declaredNames());
  });

  it('every variable the code reads (or the stack sets) is declared in the schema', () => {
    const declared = declaredNames();
    const undeclared = [...variablesReadInSource()].filter(([name]) => !declared.has(name) && !SET_BY_TOOLS.has(name) && !HOST_BASICS.has(name));
    expect(undeclared.map(([name, where]) => `${name} (${where})`)).toEqual([]);
  });

  it('sees the reads it is meant to see (the scan itself can fail)', () => {
    const read = variablesReadInSource();
    expect(read.get('DEEP_AGENT_DEBUG')).toBe('lib/cli/index.ts');
    expect(read.has('CDK_DEFAULT_ACCOUNT')).toBe(true);
    expect(read.has('DEEP_AGENT_NOTION_MCP')).toBe(true);
  });

  it('every secret variable of the schema is redacted', () => {
    for (const name of SECRET_VARIABLES) expect(SECRET_ENV_NAMES as readonly string[]).toContain(name);
  });
});
