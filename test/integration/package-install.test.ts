/**
 * The package as a user gets it: `npm pack` (which builds), `npm install <tarball>` into an empty directory
 * (dependencies from the registry, through npm's cache when it has them), then the installed `deep-agent`.
 * Slow (a real install): `npm run test:fast` leaves it out, `npm test` runs it.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, type CliResult } from '../helpers/cli.js';
import { lastToolResults, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const exec = promisify(execFile);

/** A Node older than the package supports, when this machine has one (the system Node here is 20). */
function oldNode(): string | undefined {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    try {
      const [major = 0, minor = 0] = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
      if (major < 22 || (major === 22 && minor < 13)) return candidate;
    } catch {
      // no Node there
    }
  }
  return undefined;
}
const OLD_NODE = oldNode();

/** Runs the installed `deep-agent` through its shebang, with `nodeDir` first on PATH (as `npx deep-agent` does). */
function runInstalled(bin: string, args: string[], env: Record<string, string>, nodeDir: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: env.HOME, env: { ...env, PATH: `${nodeDir}:/usr/bin:/bin` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the npm package installed from its tarball (npm pack + npm install, slow)', () => {
  let work: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  let bin: string;
  let model: ScriptedModelServer;
  const nodeDir = dirname(process.execPath);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'package-install-'));
    const env = { ...process.env, PATH: `${nodeDir}:${process.env.PATH ?? ''}` };
    const pack = await exec('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, env, maxBuffer: 16 * 1024 * 1024 });
    packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0]!;
    const project = join(work, 'project');
    mkdirSync(project);
    await exec('npm', ['install', join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, env, maxBuffer: 16 * 1024 * 1024 });
    bin = join(project, 'node_modules', '.bin', 'deep-agent');
    model = await startScriptedModel((req) => {
      const results = lastToolResults(req);
      if (results.size === 0) return { toolUses: [{ name: 'run_command', input: { command: 'echo "from the $(uname -s) sandbox" > hello.txt && cat hello.txt' } }] };
      const output = [...results.values()][0]!.text;
      return { text: `done: ${/from the \S+ sandbox/.exec(output)?.[0] ?? output}` };
    });
  }, 600_000);
  afterAll(async () => {
    await model?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built JavaScript and nothing of the tests, the CI or the TypeScript sources', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/bin/deep-agent.js');
    // The executable is the esbuild bundle (lib/cli/bundle.ts); the egress proxy is the chunk it imports by a non-literal path.
    expect(paths).toContain('dist/bin/chunks/egress-proxy.js');
    expect(paths).toContain('dist/lib/assembly/index.d.ts');
    expect(paths.filter((p) => p.startsWith('test/') || p.startsWith('.ci') || p.startsWith('lambdas/') || (p.endsWith('.ts') && !p.endsWith('.d.ts')))).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(work, 'project', 'node_modules', 'deep-agent-e2b', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies).filter((d) => /aws|cdk|tsx|constructs/.test(d))).toEqual([]);
  });

  it('deep-agent --help runs from the installed package', async () => {
    const res = await runInstalled(bin, ['--help'], { HOME: work }, nodeDir);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^Usage: deep-agent <command>/m);
    expect(res.code).toBe(0);
  });

  it('runs a scripted task in the bubblewrap sandbox from the installed package', async () => {
    const home = join(work, 'user');
    mkdirSync(home, { recursive: true });
    const res = await runInstalled(bin, ['run', 'write hello.txt'], { HOME: home, ANTHROPIC_API_KEY: 'sk-ant-package-test', ANTHROPIC_BASE_URL: model.url, DEEP_AGENT_SANDBOX: 'local' }, nodeDir);
    expect(res.stdout).toBe('done: from the Linux sandbox\n');
    expect(res.code).toBe(0);
  });

  it('the library imports from the installed package, with its types', async () => {
    const project = join(work, 'project');
    writeFileSync(join(project, 'use.mts'), "import { createAgent } from 'deep-agent-e2b';\nimport { DEFAULT_LIMITS } from 'deep-agent-e2b/lib/agent/index.js';\nconst steps: number = DEFAULT_LIMITS.maxSteps;\nconsole.log(typeof createAgent, steps);\n");
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', target: 'es2023', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['use.mts'] }));
    await exec(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project]);
    await exec(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', project, '--noEmit', 'false', '--outDir', join(project, 'out')]);
    const run = await exec(process.execPath, [join(project, 'out', 'use.mjs')], { cwd: project });
    expect(run.stdout).toBe('function 50\n');
  });

  it.skipIf(!OLD_NODE)(`on an old Node (${OLD_NODE ?? 'none on this machine'}) prints one line and exits 1`, async () => {
    const res = await runInstalled(bin, ['--help'], { HOME: work }, dirname(OLD_NODE!));
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^deep-agent: needs Node\.js 22\.13 or newer \(23\.4 or newer on the 23 line\); this is Node\.js \d+\.\d+\.\d+\.\n$/);
    expect(res.code).toBe(1);
  });
});
