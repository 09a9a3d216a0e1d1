/** Builds the package the way `npm pack` does (`npm run build`), so the bench measures what is shipped. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The installed `deep-agent` entry point (package.json `bin`). */
export const BUILT_CLI = fileURLToPath(new URL('../../dist/bin/deep-agent.js', import.meta.url));

let built: Promise<unknown> | undefined;

/** Runs `npm run build` once per process. */
export function buildPackage(): Promise<unknown> {
  built ??= promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: REPO_ROOT });
  return built;
}
