/**
 * The E2B provider's sandbox semantics (commands, files, confinement, network), on the test double of E2B's
 * control plane whose commands are real local processes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config/index.js';
import { E2B_DENIED_INTERNAL_RANGES, createE2BSandboxProvider, type E2BProviderOptions, type E2BSandbox } from '../../lib/sandbox/e2b/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { alive } from '../helpers/wait.js';

const E2B_KEY = 'e2b_test0123456789abcdef0123';
let fake: FakeE2B;
let sandbox: E2BSandbox | undefined;

beforeEach(async () => {
  fake = await FakeE2B.start();
});
afterEach(async () => {
  await sandbox?.close().catch(() => undefined);
  sandbox = undefined;
  await fake.cleanup();
});

async function open(options: E2BProviderOptions = {}): Promise<E2BSandbox> {
  const provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: E2B_KEY }), {
    sdk: fake,
    options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 }, ...options },
  });
  sandbox = await provider.create({ taskId: 'task-1', env: { GREETING: 'hello' } });
  return sandbox;
}


describe('E2B sandbox commands', () => {
  it('runs in the workspace, streams output, and reports exit codes', async () => {
    // prepare
    const sb = await open();
    const streamed: string[] = [];

    // act
    const ok = await sb.run('echo "$GREETING from $(pwd)"; echo oops >&2', { onStdout: (c) => streamed.push(c) });
    const failed = await sb.run('exit 3');

    // assess
    expect(ok).toMatchObject({ stdout: `hello from ${fake.workdir}\n`, stderr: 'oops\n', exitCode: 0, timedOut: false, truncated: false });
    expect(streamed.join('')).toBe(ok.stdout);
    expect(failed).toMatchObject({ exitCode: 3, timedOut: false });
  });

  it('kills the whole process tree when a command times out', async () => {
    const sb = await open();
    const started = Date.now();

    const r = await sb.run('sleep 30 & echo $! > child.pid; sleep 30', { timeoutMs: 400 });

    expect(r).toMatchObject({ timedOut: true, exitCode: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    const childPid = Number(await readFile(join(fake.workdir, 'child.pid'), 'utf8'));
    await expect.poll(() => alive(childPid), { timeout: 2000 }).toBe(false);
  });

  it('caps each stream at the output cap and says so', async () => {
    const sb = await open({ outputCapBytes: 1000 });

    const r = await sb.run('head -c 5000 /dev/zero | tr "\\0" a; echo done >&2');

    expect(r.stdout).toBe('a'.repeat(1000));
    expect(r.stderr).toBe('done\n');
    expect(r.truncated).toBe(true);
  });

  it('starts background commands and returns their E2B pid, output in the background log', async () => {
    const sb = await open();

    const r = await sb.run('echo from-background; sleep 30', { background: true });

    expect(r.backgroundId).toMatch(/^\d+$/);
    expect(r.exitCode).toBeNull();
    const log = join(fake.workdir, '.deep-agent/background', `${r.backgroundId}.log`);
    await expect.poll(() => (existsSync(log) ? readFile(log, 'utf8') : ''), { timeout: 5000 }).toBe('from-background\n');
    await sb.close();
    await expect.poll(() => alive(Number(r.backgroundId)), { timeout: 2000 }).toBe(false);
  });

  it('throws cancelled and kills the command when the signal aborts', async () => {
    const sb = await open();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);

    await expect(sb.run('sleep 30', { signal: controller.signal })).rejects.toMatchObject({ code: 'cancelled' });
    const sleeps = fake.commands.filter((c) => c.cmd.split('\n').at(-1) === 'sleep 30');
    expect(sleeps).toHaveLength(1);
    expect(sleeps.every((c) => !alive(c.pid))).toBe(true);
  });

  it('refuses an empty command and a cwd that is not a directory', async () => {
    const sb = await open();
    await sb.writeFile('file.txt', 'x');
    await expect(sb.run('  ')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(sb.run('pwd', { cwd: 'file.txt' })).rejects.toMatchObject({ code: 'invalid_input' });
    expect((await sb.run('pwd', { cwd: '/workspace' })).stdout.trim()).toBe(fake.workdir);
  });
});

describe('E2B sandbox network', () => {
  it('creates the sandbox without internet and opens it only while a network command runs', async () => {
    const sb = await open();

    await sb.run('echo offline');
    await sb.run('echo online', { network: true });
    const after = await sb.info();

    expect(fake.callsOf('create')[0]!.args).toMatchObject({ allowInternetAccess: false });
    const byCmd = Object.fromEntries(fake.commands.map((c) => [c.cmd.split('\n').at(-1), c.network]));
    expect(byCmd['echo offline']).toBe(false);
    expect(byCmd['echo online']).toBe(true);
    expect(fake.only().allowInternetAccess).toBe(false);
    expect(after.network).toBe('off-by-default');
    expect(after.networkPolicy).toContain('allowInternetAccess=false');
  });

  it('network: true opens the internet but denies link-local (the metadata address), private and shared ranges while it runs', async () => {
    const sb = await open();

    await sb.run('echo online', { network: true });

    const updates = fake.callsOf('updateNetwork').map((c) => c.args);
    expect(updates).toEqual([{ allowInternetAccess: true, denyOut: [...E2B_DENIED_INTERNAL_RANGES] }, { allowInternetAccess: false }]);
    expect(E2B_DENIED_INTERNAL_RANGES).toEqual(expect.arrayContaining(['169.254.0.0/16', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10']));
  });

  it('DEEP_AGENT_SANDBOX_SECRETS: the sandbox env holds only sentinels; create and every network update carry header rules with the values', async () => {
    const token = 'ghp_realtoken0123456789abcdefghij';
    const apiKey = 'k-real-0123456789abcdef';
    const provider = createE2BSandboxProvider(
      loadConfig({ E2B_API_KEY: E2B_KEY, DEEP_AGENT_SANDBOX_SECRETS: 'GITHUB_TOKEN=github.com,api.github.com:443;API_KEY@X-Api-Key=api.example.com', GITHUB_TOKEN: token, API_KEY: apiKey }),
      { sdk: fake, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } } },
    );
    sandbox = await provider.create({ taskId: 'task-1' });
    const rules = {
      'github.com': [{ transform: { headers: { Authorization: `Bearer ${token}` } } }],
      'api.github.com': [{ transform: { headers: { Authorization: `Bearer ${token}` } } }],
      'api.example.com': [{ transform: { headers: { 'X-Api-Key': apiKey } } }],
    };

    const inside = await sandbox.run('echo "$GITHUB_TOKEN $API_KEY"', { network: ['api.github.com'] });

    const created = fake.callsOf('create')[0]!.args as { envs: Record<string, string>; network?: unknown };
    expect(created.network).toEqual({ rules });
    expect(created.envs.GITHUB_TOKEN).toMatch(/^deep-agent-masked-github_token-[0-9a-f]{24}$/);
    expect(created.envs.API_KEY).toMatch(/^deep-agent-masked-api_key-[0-9a-f]{24}$/);
    expect(JSON.stringify(created.envs)).not.toContain(token);
    expect(inside.stdout).toBe(`${created.envs.GITHUB_TOKEN} ${created.envs.API_KEY}\n`);
    expect(fake.callsOf('updateNetwork').map((c) => c.args)).toEqual([
      { allowOut: ['api.github.com'], denyOut: ['0.0.0.0/0'], rules },
      { allowInternetAccess: false, rules },
    ]);
  });

  it("a sandbox's own masked credential (CreateSandboxOptions) becomes a sentinel and a rule of that sandbox only", async () => {
    const value = 'task-own-secret-0123456789';
    const provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: E2B_KEY }), { sdk: fake, options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } } });
    sandbox = await provider.create({ taskId: 'task-1', maskedCredentials: [{ name: 'TASK_TOKEN', value, hosts: ['api.example.com'], header: 'X-Api-Key' }] });
    const other = await provider.create({ taskId: 'task-2' });
    await other.close();

    const [own, plain] = fake.callsOf('create').map((c) => c.args as { envs: Record<string, string>; network?: unknown });
    expect(own!.envs.TASK_TOKEN).toMatch(/^deep-agent-masked-task_token-[0-9a-f]{24}$/);
    expect(own!.network).toEqual({ rules: { 'api.example.com': [{ transform: { headers: { 'X-Api-Key': value } } }] } });
    expect(plain!.envs.TASK_TOKEN).toBeUndefined();
    expect(plain!.network).toBeUndefined();
    await expect(provider.create({ taskId: 'task-3', maskedCredentials: [{ name: 'BAD-NAME', value, hosts: ['api.example.com'] }] })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('refuses a DEEP_AGENT_SANDBOX_SECRETS that is not VAR=hosts or VAR@Header-Name=hosts', () => {
    expect(() => loadConfig({ E2B_API_KEY: E2B_KEY, DEEP_AGENT_SANDBOX_SECRETS: 'T@Bad Header=github.com', T: 'x' })).toThrow(/VAR2@Header-Name=host3 \(at "T@Bad Header=github.com"\)/);
  });

  it('a host list becomes allowOut (ports dropped) over denyOut 0.0.0.0/0 while it runs, then internet is off again', async () => {
    const sb = await open();

    await sb.run('echo listed', { network: ['pkg.example.org', '*.cdn.example.org', 'api.example.com:443'] });

    const updates = fake.callsOf('updateNetwork').map((c) => c.args);
    expect(updates).toEqual([{ allowOut: ['pkg.example.org', '*.cdn.example.org', 'api.example.com'], denyOut: ['0.0.0.0/0'] }, { allowInternetAccess: false }]);
    expect(fake.only().allowInternetAccess).toBe(false);
  });

  it("a task's allowlist bounds network: true, and a host outside it is refused before anything opens", async () => {
    const provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: E2B_KEY, DEEP_AGENT_NETWORK_ALLOW: 'pkg.example.org' }), {
      sdk: fake,
      options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
    });
    sandbox = await provider.create({ taskId: 'task-1' });

    await sandbox.run('echo bounded', { network: true });
    await expect(sandbox.run('echo outside', { network: ['evil.example.net'] })).rejects.toMatchObject({ code: 'network_disabled' });

    expect(fake.callsOf('updateNetwork').map((c) => c.args)).toEqual([{ allowOut: ['pkg.example.org'], denyOut: ['0.0.0.0/0'] }, { allowInternetAccess: false }]);
    expect(fake.commands.map((c) => c.cmd.split('\n').at(-1))).not.toContain('echo outside');
  });

  it('keeps the network on while a background network process lives, then turns it off', async () => {
    const sb = await open();

    await sb.run('sleep 0.5', { background: true, network: true });
    expect(fake.only().allowInternetAccess).toBe(true);
    expect((await sb.info()).network).toBe('on');

    await expect.poll(() => fake.only().allowInternetAccess, { timeout: 5000 }).toBe(false);
  });

  it('leaves internet on for every command with the always-on policy', async () => {
    await open({ network: 'always-on' });
    expect(fake.callsOf('create')[0]!.args).toMatchObject({ allowInternetAccess: true });
    expect(fake.callsOf('updateNetwork')).toHaveLength(0);
  });
});

describe('E2B sandbox files', () => {
  it('writes, reads (text and binary) and lists files relative to the workspace', async () => {
    const sb = await open();
    const bytes = new Uint8Array([0, 255, 1, 128]);

    await sb.writeFile('src/a.txt', 'héllo');
    await sb.writeFile('bin/data.bin', bytes);
    await sb.writeFile('node_modules/pkg/index.js', '1');

    expect(await sb.readFile('src/a.txt')).toBe('héllo');
    expect(await sb.readFileBytes('/workspace/bin/data.bin')).toEqual(bytes);
    expect(await sb.listFiles()).toEqual([
      { path: 'bin', type: 'dir', size: 0 },
      { path: 'bin/data.bin', type: 'file', size: 4 },
      { path: 'node_modules', type: 'dir', size: 0 },
      { path: 'src', type: 'dir', size: 0 },
      { path: 'src/a.txt', type: 'file', size: 6 },
    ]);
    expect(await sb.listFiles('src')).toEqual([{ path: 'src/a.txt', type: 'file', size: 6 }]);
  });

  it('reports missing files as not_found and directories as invalid input', async () => {
    const sb = await open();
    await expect(sb.readFile('nope.txt')).rejects.toMatchObject({ code: 'not_found' });
    await expect(sb.listFiles('nope')).rejects.toMatchObject({ code: 'not_found' });
    await sb.writeFile('d/x', '1');
    await expect(sb.readFile('d')).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('refuses paths outside the workspace, through .., absolute paths and symlinks, before touching E2B files', async () => {
    const sb = await open();
    const secret = join(fake.root, 'secret.txt');
    await writeFile(secret, 'top secret');
    await mkdir(fake.workdir, { recursive: true });
    await symlink(fake.root, join(fake.workdir, 'escape'));

    for (const p of ['../secret.txt', '/etc/passwd', secret, 'escape/secret.txt']) {
      await expect(sb.readFile(p)).rejects.toMatchObject({ code: 'path_outside_workspace' });
    }
    await expect(sb.writeFile('escape/new.txt', 'x')).rejects.toMatchObject({ code: 'path_outside_workspace' });
    await expect(sb.run('ls', { cwd: '..' })).rejects.toMatchObject({ code: 'path_outside_workspace' });
    expect(fake.callsOf('read')).toHaveLength(0);
    expect(fake.callsOf('write')).toHaveLength(0);
    expect(existsSync(join(fake.root, 'new.txt'))).toBe(false);
  });

  it('lists a symlink as a symlink without following it', async () => {
    const sb = await open();
    await mkdir(fake.workdir, { recursive: true });
    await symlink('/etc', join(fake.workdir, 'etc-link'));
    expect(await sb.listFiles()).toEqual([{ path: 'etc-link', type: 'symlink', size: 0 }]);
  });
});

describe('E2B sandbox info', () => {
  it('reports id, provider, workdir, resources and time left', async () => {
    const sb = await open({ timeoutSeconds: 300 });

    const info = await sb.info();

    expect(info).toMatchObject({ id: sb.id, provider: 'e2b', workdir: fake.workdir, resources: { cpus: 2, memoryMb: 512 }, template: 'base' });
    expect(info.timeLeftSeconds).toBeGreaterThan(290);
    expect(info.timeLeftSeconds).toBeLessThanOrEqual(300);
    expect(info.notes.join(' ')).toContain('sudo apt-get');
  });
});
