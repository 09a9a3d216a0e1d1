/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, client mode) against deep-agent
 * driven as a user drives it: test/helpers/conformance-client.ts writes a `.mcp.json`, runs
 * `deep-agent mcp login` and `deep-agent run`. One runner per scenario, three at a time.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const RUNNER = `${REPO_ROOT}node_modules/@modelcontextprotocol/conformance/dist/index.js`;
const CLIENT = `${process.execPath} --import tsx test/helpers/conformance-client.ts`;

/** `initialize`, `tools_call`, `sse-retry` and every auth scenario for 2025-11-25 or 2025-06-18. */
const SCENARIOS = [
  'initialize',
  'tools_call',
  'sse-retry',
  'auth/metadata-default',
  'auth/metadata-var1',
  'auth/metadata-var2',
  'auth/metadata-var3',
  'auth/basic-cimd',
  'auth/scope-from-www-authenticate',
  'auth/scope-from-scopes-supported',
  'auth/scope-omitted-when-undefined',
  'auth/scope-step-up',
  'auth/scope-retry-limit',
  'auth/token-endpoint-auth-basic',
  'auth/token-endpoint-auth-post',
  'auth/token-endpoint-auth-none',
  'auth/pre-registration',
];

/** At most `limit` runners at once: each spawns two or three Node processes. */
function limiter(limit: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
const slot = limiter(3);

function runScenario(scenario: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, 'client', '--command', CLIENT, '--scenario', scenario, '--timeout', '150000'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('MCP conformance suite, client mode (deep-agent CLI as the client)', () => {
  it.concurrent.each(SCENARIOS)('%s passes', { timeout: 400_000 }, async (scenario) => {
    const { code, output } = await slot(() => runScenario(scenario));
    // The runner fails a scenario on any FAILURE or WARNING check, a timeout, or an unexpected client exit
    // (scope-retry-limit expects our login to give up, so there the client's exit 1 is allowed).
    const problems = output.split('\n').filter((l) => /FAILURE|WARNING|timed out|conformance client:|deep-agent/.test(l));
    expect({ code, overall: /OVERALL: PASSED/.test(output), problems }).toMatchObject({ code: 0, overall: true });
  });
});
