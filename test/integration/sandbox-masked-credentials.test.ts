/**
 * Masked credentials through bubblewrap's egress proxy: the sandbox sees only a sentinel; a local HTTPS
 * server standing for a listed host (its name resolved by the proxy's test override, its CA given to the
 * project the usual Node way, NODE_EXTRA_CA_CERTS) receives the real value; a host not listed for the
 * credential receives the sentinel.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMitmCA, disposeMitmCA, type MitmCA } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-ca.js';
import { mintLeafCert } from '@anthropic-ai/sandbox-runtime/dist/sandbox/mitm-leaf.js';
import { REPO_ROOT } from '../helpers/cli.js';

const execFileAsync = promisify(execFile);
const REAL = 'real-secret-value-5d1c9e2b7a';

/** Runs in a child Node process started with NODE_EXTRA_CA_CERTS: a sandbox with one masked credential, four commands. */
const CHILD = `
const [home, port, real] = process.argv.slice(1);
const { BubblewrapSandboxProvider } = await import('./lib/sandbox/index.ts');
const provider = new BubblewrapSandboxProvider({
  home,
  hostOverrides: { 'api.secrets.test': '127.0.0.1', 'other.secrets.test': '127.0.0.1' },
  maskedCredentials: [{ name: 'API_TOKEN', value: real, hosts: ['api.secrets.test'] }],
});
const sandbox = await provider.create({ taskId: 'masked-1' });
// The names resolve to this machine's loopback (the override), which the proxy refuses unless it is listed too.
const network = ['api.secrets.test', 'other.secrets.test', '127.0.0.1:' + port];
const curl = (path, host, extra) => 'curl -sS -m 10 ' + extra + ' https://' + host + ':' + port + path + ' 2>&1; echo';
const out = {};
out.seen = (await sandbox.run('env | grep ^API_TOKEN=; cat /proc/self/environ | tr "\\\\000" "\\\\n" | grep ^API_TOKEN=; echo "$API_TOKEN" > token.txt; cat token.txt; grep -rsl real-secret /workspace /home /tmp /run /etc 2>/dev/null; echo end')).stdout;
out.listed = (await sandbox.run(curl('/listed', 'api.secrets.test', '-H "Authorization: Bearer $API_TOKEN" -d "token=$API_TOKEN"'), { network, timeoutMs: 30000 })).stdout;
out.basic = (await sandbox.run(curl('/basic', 'api.secrets.test', '-u "x:$API_TOKEN"'), { network, timeoutMs: 30000 })).stdout;
out.unlisted = (await sandbox.run(curl('/unlisted', 'other.secrets.test', '-H "Authorization: Bearer $API_TOKEN"'), { network, timeoutMs: 30000 })).stdout;
out.file = sandbox.hostWorkspace + '/token.txt';
await sandbox.close();
process.stdout.write(JSON.stringify(out));
`;

/** The same, with a credential of this sandbox only (what a task-level credential becomes), none on the provider. */
const CHILD_OWN = `
const [home, port, real] = process.argv.slice(1);
const { BubblewrapSandboxProvider } = await import('./lib/sandbox/index.ts');
const provider = new BubblewrapSandboxProvider({ home, hostOverrides: { 'api.secrets.test': '127.0.0.1' } });
const sandbox = await provider.create({ taskId: 'masked-own', maskedCredentials: [{ name: 'TASK_TOKEN', value: real, hosts: ['api.secrets.test'] }] });
const network = ['api.secrets.test', '127.0.0.1:' + port];
const out = {};
out.seen = (await sandbox.run('printenv TASK_TOKEN')).stdout;
out.own = (await sandbox.run('curl -sS -m 10 -H "Authorization: Bearer $TASK_TOKEN" https://api.secrets.test:' + port + '/own 2>&1; echo', { network, timeoutMs: 30000 })).stdout;
await sandbox.close();
const other = await provider.create({ taskId: 'masked-other' });
out.other = (await other.run('printenv TASK_TOKEN || echo unset')).stdout;
await other.close();
process.stdout.write(JSON.stringify(out));
`;

interface Received {
  path: string;
  authorization?: string;
  body: string;
}

let home: string;
let ca: MitmCA;
let server: Server;
const received: Received[] = [];

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'masked-'));
  // The test's own CA, standing for a public one: the proxy must verify the upstream with it.
  ca = createMitmCA({});
  writeFileSync(join(home, 'test-ca.pem'), ca.certPem);
  const contexts = Object.fromEntries(['api.secrets.test', 'other.secrets.test'].map((h) => [h, createSecureContext(((l) => ({ cert: l.certPem, key: l.keyPem }))(mintLeafCert(ca, h)))]));
  server = createServer({ SNICallback: (name, cb) => cb(null, contexts[name]) }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ path: req.url ?? '', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), body });
      res.end('ok\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  server?.close();
  if (ca) await disposeMitmCA(ca);
  rmSync(home, { recursive: true, force: true });
});

describe('masked credentials (DEEP_AGENT_SANDBOX_SECRETS) on bubblewrap', () => {
  it('shows only a sentinel inside; the listed host receives the real value, another host the sentinel', async () => {
    // act
    const port = String((server.address() as AddressInfo).port);
    const { stdout } = await execFileAsync(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', '--input-type=module', '-e', CHILD, home, port, REAL], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(home, 'test-ca.pem') },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout) as { seen: string; listed: string; basic: string; unlisted: string; file: string };
    // assess: inside, env, /proc/self/environ and a file hold the sentinel only; no file holds the value
    const sentinel = /^API_TOKEN=(deep-agent-masked-api_token-[0-9a-f]{24})$/m.exec(out.seen)?.[1];
    expect(sentinel).toBeDefined();
    expect(out.seen.split('\n').filter(Boolean)).toEqual([`API_TOKEN=${sentinel}`, `API_TOKEN=${sentinel}`, sentinel, 'end']);
    expect(readFileSync(out.file, 'utf8').trim()).toBe(sentinel);
    for (const o of [out.seen, out.listed, out.basic, out.unlisted]) expect(o).not.toContain(REAL);
    // the listed host: real value in the header, in the body, and inside Basic credentials (as git sends them)
    expect(out.listed.trim()).toBe('ok');
    const byPath = Object.fromEntries(received.map((r) => [r.path, r]));
    expect(byPath['/listed']).toMatchObject({ authorization: `Bearer ${REAL}`, body: `token=${REAL}` });
    expect(Buffer.from(byPath['/basic']!.authorization!.replace(/^Basic /, ''), 'base64').toString()).toBe(`x:${REAL}`);
    // a host the credential is not listed for: the sentinel, never the value
    expect(out.unlisted.trim()).toBe('ok');
    expect(byPath['/unlisted']!.authorization).toBe(`Bearer ${sentinel}`);
  });

  it("holds a sandbox's own credential (CreateSandboxOptions.maskedCredentials) the same way, for that sandbox only", async () => {
    const port = String((server.address() as AddressInfo).port);
    const { stdout } = await execFileAsync(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', '--input-type=module', '-e', CHILD_OWN, home, port, REAL], {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(home, 'test-ca.pem') },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout) as { seen: string; own: string; other: string };
    expect(out.seen).toMatch(/^deep-agent-masked-task_token-[0-9a-f]{24}\n$/);
    expect(out.own.trim()).toBe('ok');
    expect(received.find((r) => r.path === '/own')).toMatchObject({ authorization: `Bearer ${REAL}` });
    expect(out.other).toBe('unset\n');
    expect(stdout).not.toContain(REAL);
  });
});
