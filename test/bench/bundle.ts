/**
 * The agent Lambda bundle: its size and cold import time (targets: <= 2 MB, <= 300 ms).
 *
 * The bundle is built with the stack's own esbuild options (lib/infra `esbuildOptions`), into a folder inside the
 * checkout so that the modules the Lambda runtime provides (AWS SDK v3) resolve from node_modules, as they resolve
 * from the runtime's copy on Lambda. Each import is timed in a fresh `node` process with only the environment the
 * module reads at import, and the median of several processes is reported.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { esbuildOptions, REPO_ROOT, type AwsSdkSource } from '../../lib/infra/index.js';

/** The agent function's settings in the stack (lib/infra/stack.ts). */
const AGENT = { entry: 'lambdas/agent.ts', awsSdk: 'bundled' as AwsSdkSource };
const PROCESSES = 5;
const MB = 1024 * 1024;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Bytes in the bundle per npm package (or `(project)`), biggest first. */
function biggestInputs(metafile: esbuild.Metafile, count: number): string {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint)!;
  const byPackage = new Map<string, number>();
  for (const [path, input] of Object.entries(output.inputs)) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? '(project)';
    byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, bytes]) => `${name} ${Math.round(bytes / 1024)} KB`)
    .join(', ');
}

/** Milliseconds one fresh process spends importing `file` (the module's top level included). */
function coldImportMs(file: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    // What the deployed function has at import: its own variables (dummy values; nothing is called at import).
    env: {
      PATH: process.env.PATH ?? '',
      NODE_OPTIONS: '--enable-source-maps',
      AWS_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'bench-agent',
      POWERTOOLS_SERVICE_NAME: 'deep-agent-agent',
      POWERTOOLS_METRICS_NAMESPACE: 'DeepAgent',
      TASK_BUCKET: 'bench-bucket',
      SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-tokens',
      CONNECTION_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
      DEEP_AGENT_SANDBOX: 'e2b',
    },
  });
  const ms = Number(run.stdout);
  if (run.status !== 0 || !Number.isFinite(ms)) throw new Error(`importing the bundle failed: ${run.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return ms;
}

/**
 * Builds the agent bundle exactly as `cdk synth` does and measures it.
 *
 * @example
 * const figures = await benchBundle(); // { 'bundle size (MB)': 1.41, 'cold import, median (ms)': 180, ... }
 */
export async function benchBundle(): Promise<Record<string, number | string>> {
  const dir = join(REPO_ROOT, 'node_modules', '.cache', 'deep-agent-bench', 'agent');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, 'index.mjs');
  const built = await esbuild.build({ ...esbuildOptions(AGENT.entry, outfile, AGENT.awsSdk), metafile: true, logLevel: 'error' });
  const bytes = statSync(outfile).size;

  // The baseline: a bundle of the bare SDK client alone, built and imported the same way.
  const bareEntry = join(dir, 'bare-sdk.ts');
  writeFileSync(bareEntry, "import Anthropic from '@anthropic-ai/sdk';\nexport const client = new Anthropic({ apiKey: 'sk-ant-bench' });\n");
  const bareOut = join(dir, 'bare-sdk.mjs');
  await esbuild.build({ ...esbuildOptions(bareEntry, bareOut, AGENT.awsSdk), logLevel: 'error' });

  const times: number[] = [];
  const bareTimes: number[] = [];
  // Interleaved, so both see the same load on a busy machine.
  for (let i = 0; i < PROCESSES; i++) {
    times.push(coldImportMs(outfile));
    bareTimes.push(coldImportMs(bareOut));
  }

  return {
    'bundle (lambdas/agent.ts)': `AWS SDK from the ${AGENT.awsSdk === 'runtime' ? 'Lambda runtime' : 'bundle'}`,
    'bundle size (bytes)': bytes,
    'bundle size (MB)': Number((bytes / MB).toFixed(2)),
    'bundle size target (MB)': '<= 2',
    'biggest inputs': biggestInputs(built.metafile, 6),
    [`cold import, median of ${PROCESSES} processes (ms)`]: Math.round(median(times)),
    'cold import, min..max (ms)': `${Math.round(Math.min(...times))}..${Math.round(Math.max(...times))}`,
    'cold import target (ms)': '<= 300',
    'bare SDK bundle: size (MB) / cold import median (ms)': `${(statSync(bareOut).size / MB).toFixed(2)} / ${Math.round(median(bareTimes))}`,
    'source maps': `${existsSync(`${outfile}.map`) ? 'emitted' : 'none'}, loaded with --enable-source-maps`,
  };
}
