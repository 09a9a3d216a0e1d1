/** Runs the real CLI as a subprocess (Node 24 + tsx), the way a user does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only PATH and HOME come from the parent: each test states the rest of the environment it means. */
export function baseEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...extra };
}

/** `nodeArgs` go to node before the script (e.g. another `--import`). */
export function runCli(args: string[], env: Record<string, string>, options: { cwd?: string; input?: string; timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', ...(options.nodeArgs ?? []), `${REPO_ROOT}bin/deep-agent.ts`, ...args], {
      // Like `npm run`: the process runs in the checkout, INIT_CWD says where the user is.
      cwd: REPO_ROOT,
      env: { ...env, INIT_CWD: options.cwd ?? REPO_ROOT },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `deep-agent serve --port 0` as a subprocess and reads the URL it prints. */
export function startServe(env: Record<string, string>): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', `${REPO_ROOT}bin/deep-agent.ts`, 'serve', '--port', '0', '--grace', '1'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    child.stderr!.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(err);
      if (m && Number(m[2]) > 0) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err, exited });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}
