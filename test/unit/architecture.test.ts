/**
 * The folder rules, enforced: a folder's `index.ts` is its public face, so code in one folder imports another
 * folder only through that folder's index (or a sub-folder's index, e.g. `sandbox/e2b/index.ts`), and the
 * folders form layers: no folder reaches back to one that depends on it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `lib/<folder>/...` -> `<folder>`; `lambdas/x.ts` -> `lambdas`; `bin/x.ts` -> `bin`. */
const folderOf = (file: string) => (file.startsWith('lib/') ? file.split('/')[1]! : file.split('/')[0]!);

interface Import {
  from: string;
  to: string;
}

/** Every relative import, re-export and dynamic import of a file, resolved to a repository path. */
function importsOf(file: string, source: string): Import[] {
  const out: Import[] = [];
  for (const m of source.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const to = relative(ROOT, resolve(ROOT, dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    out.push({ from: file, to });
  }
  return out;
}

/** Imports that skip a folder's index on purpose, each with its reason. */
const ALLOWED: Record<string, string> = {
  // The Node check must run before anything that needs a newer Node (node:sqlite) is even loaded.
  'bin/deep-agent.ts -> lib/cli/node-version.ts': 'checks the Node version with no other import',
};

const files = ['lib', 'lambdas', 'bin'].flatMap(sourceFiles);
const imports = files.flatMap((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')));

/** Folder -> the folders it imports. */
function folderGraph(list: Import[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const { from, to } of list) {
    const a = folderOf(from);
    const b = folderOf(to);
    if (a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  return graph;
}

/** Every cycle of the graph, each as `a -> b -> a`. */
function cyclesOf(graph: Map<string, Set<string>>): string[] {
  const cycles = new Set<string>();
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      cycles.add([...path.slice(at), node].join(' -> '));
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return [...cycles];
}

describe('architecture', () => {
  it('reads the imports of the whole tree (the scan itself works)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.some((i) => i.from === 'lambdas/agent.ts' && i.to.startsWith('lib/'))).toBe(true);
  });

  it('imports another folder only through its index.ts', () => {
    const offenders = imports
      .filter(({ from, to }) => folderOf(from) !== folderOf(to) && !to.endsWith('/index.ts'))
      .map(({ from, to }) => `${from} -> ${to}`)
      .filter((pair) => !(pair in ALLOWED));
    expect(offenders).toEqual([]);
  });

  it('has no import cycle between folders', () => {
    expect(cyclesOf(folderGraph(imports))).toEqual([]);
  });

  it('the rules catch what they are meant to catch', () => {
    const bad = importsOf('lib/agent/loop.ts', "import { x } from '../model/types.js';\nexport * from './journal.js';");
    expect(bad).toEqual([
      { from: 'lib/agent/loop.ts', to: 'lib/model/types.ts' },
      { from: 'lib/agent/loop.ts', to: 'lib/agent/journal.ts' },
    ]);
    const graph = folderGraph([
      { from: 'lib/config/index.ts', to: 'lib/model/index.ts' },
      { from: 'lib/model/anthropic.ts', to: 'lib/config/index.ts' },
    ]);
    expect(cyclesOf(graph)).toEqual(['config -> model -> config']);
  });
});
