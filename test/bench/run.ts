/**
 * `npm run bench`: prints the project's speed, size and cost figures. Targets are printed beside the figures;
 * nothing here asserts, so a slow machine never fails a build.
 */
import { existsSync } from 'node:fs';
import { benchAgent } from './agent.js';

type Bench = () => Promise<Record<string, number | string>>;

const suites: Array<[string, Bench | string]> = [['agent loop (real SDK over HTTP to the scripted server; bare SDK loop beside)', benchAgent]];

// Benchmarks of other parts, when present in this checkout.
for (const [name, file, fn] of [
  ['start-up (spawned processes: built CLI run vs a bare SDK script)', './startup.ts', 'benchStartup'],
  ['tool search (MCP tools deferred: API tool search, client-side search_tools, eager baseline)', './tool-search.ts', 'benchToolSearch'],
  ['queue (local service over HTTP, 1-step tasks)', './queue.ts', 'benchQueue'],
  ['agent Lambda bundle (as deployed, with source maps)', './bundle.ts', 'benchBundle'],
  ['live events (SSE in serve)', './sse.ts', 'benchSse'],
] as const) {
  if (existsSync(new URL(file, import.meta.url))) suites.push([name, (await import(file))[fn] as Bench]);
}

let failed = false;
for (const [name, bench] of suites) {
  process.stdout.write(`\n${name}\n`);
  try {
    const figures = await (bench as Bench)();
    const width = Math.max(...Object.keys(figures).map((k) => k.length));
    for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  } catch (e) {
    failed = true;
    process.stdout.write(`  failed: ${(e as Error).message}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
