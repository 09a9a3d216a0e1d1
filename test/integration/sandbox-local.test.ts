import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import {
  BWRAP_MISSING_MESSAGE,
  BubblewrapSandboxProvider,
  LocalSandbox,
  UnsafeLocalSandboxProvider,
  createSandboxProvider,
  type Sandbox,
} from '../../lib/sandbox/index.js';
import { describeSandboxContract } from '../helpers/sandbox-contract.js';
import { until } from '../helpers/wait.js';

const home = await mkdtemp(join(tmpdir(), 'sandbox-local-'));
afterAll(() => rm(home, { recursive: true, force: true }));
const hostWorkspace = (s: Sandbox) => (s instanceof LocalSandbox ? s.hostWorkspace : undefined);
const CAP = 64 * 1024;

describeSandboxContract('bubblewrap', () => new BubblewrapSandboxProvider({ home, maxOutputBytes: CAP }), {
  maxOutputBytes: CAP,
  hostWorkspace,
  makeLimitedProvider: (resourceLimits) => new BubblewrapSandboxProvider({ home, resourceLimits }),
  enforcesHostLists: true,
});
describeSandboxContract('unsafe-local', () => new UnsafeLocalSandboxProvider({ home, maxOutputBytes: CAP }), {
  maxOutputBytes: CAP,
  hostWorkspace,
  makeLimitedProvider: (resourceLimits) => new UnsafeLocalSandboxProvider({ home, resourceLimits }),
  isolated: false,
});

describe('bubblewrap egress proxy', () => {
  it('refuses a listed name that resolves to loopback, link-local, metadata or private space, unless that address is listed too', async () => {
    const listener = createHttpServer((_req, res) => res.end('hello from the host\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const provider = new BubblewrapSandboxProvider({
      home,
      hostOverrides: { 'loop.test': '127.0.0.1', 'meta.test': '169.254.169.254', 'private.test': '10.1.2.3', 'v6meta.test': 'fd00:ec2::254' },
    });
    await using sandbox = await provider.create({ taskId: 'egress-guard' });
    try {
      const probe = (host: string) => `curl -sS -m 5 http://${host}:${port}/ 2>&1; echo`;
      const names = ['loop.test', 'meta.test', 'private.test', 'v6meta.test'];
      const refused = await sandbox.run(names.map(probe).join('; '), { network: names, timeoutMs: 30_000 });
      expect(refused.stdout).not.toContain('hello from the host');
      expect(refused.stdout.match(/403|blocked|denied|refused/gi)?.length ?? 0).toBeGreaterThanOrEqual(names.length);
      // listed literally, the loopback address is what the name may reach
      const listed = await sandbox.run(probe('loop.test'), { network: ['loop.test', `127.0.0.1:${port}`], timeoutMs: 30_000 });
      expect(listed.stdout).toBe('hello from the host\n\n');
    } finally {
      listener.close();
    }
  });

  it('with network: true (any public host), refuses names that resolve to loopback, link-local, metadata or private space', async () => {
    const listener = createHttpServer((_req, res) => res.end('hello from the host\n'));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const provider = new BubblewrapSandboxProvider({
      home,
      hostOverrides: { 'loop.test': '127.0.0.1', 'meta.test': '169.254.169.254', 'private.test': '10.1.2.3', 'v6meta.test': 'fd00:ec2::254', 'mapped.test': '::ffff:127.0.0.1' },
    });
    await using sandbox = await provider.create({ taskId: 'egress-guard-public' });
    try {
      const names = ['loop.test', 'meta.test', 'private.test', 'v6meta.test', 'mapped.test'];
      const r = await sandbox.run(names.map((host) => `curl -sS -m 5 http://${host}:${port}/ 2>&1; echo`).join('; '), { network: true, timeoutMs: 30_000 });
      expect(r.stdout).not.toContain('hello from the host');
      expect(r.stdout.match(/403|blocked|denied|refused/gi)?.length ?? 0).toBeGreaterThanOrEqual(names.length);
    } finally {
      listener.close();
    }
  });
});

describe('bubblewrap sandbox', () => {
  const provider = new BubblewrapSandboxProvider({
    home,
    readOnlyMounts: [{ hostPath: dirname(process.execPath), sandboxPath: '/opt/node/bin' }],
  });
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await provider.create({ taskId: 'bwrap-specific', env: { GIVEN: 'by-caller' } });
  });
  afterAll(() => sandbox.close());

  it('refuses to start without bwrap, in one line that names the way out', async () => {
    const missing = new BubblewrapSandboxProvider({ home, bwrapPath: '/nonexistent/bwrap' });

    const e = await missing.create({ taskId: 'no-bwrap' }).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );

    expect(e).toMatchObject({ code: 'sandbox_unavailable', message: BWRAP_MISSING_MESSAGE });
    expect(e!.message).not.toContain('\n');
    expect(e!.message).toContain('DEEP_AGENT_SANDBOX=unsafe-local');
  });

  it('clears the environment: only PATH, HOME, LANG, TERM and what the caller passed', async () => {
    const canary = ['sk', 'ant', 'api03', 'CANARYCANARYCANARYCANARY'].join('-');
    process.env.ANTHROPIC_API_KEY = canary;
    try {
      const s = await provider.create({ taskId: 'bwrap-env', env: { GIVEN: 'by-caller' } });
      const r = await s.run('env');
      const everywhere = await s.run('cat /proc/*/environ /proc/*/cmdline 2>/dev/null | tr "\\0" "\\n"; grep -rs "$0" /tmp /home/user /workspace');
      await s.close();

      const names = new Set(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=')[0]));
      expect(r.stdout + everywhere.stdout).not.toContain(canary);
      expect([...names].sort()).toEqual(expect.arrayContaining(['GIVEN', 'HOME', 'LANG', 'PATH', 'TERM']));
      for (const n of names) expect(['GIVEN', 'HOME', 'LANG', 'PATH', 'TERM', 'PWD', 'SHLVL', 'OLDPWD', '_']).toContain(n);
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
    }
  });

  it('keeps the host system read-only and hides /root, /work and /home', async () => {
    const r = await sandbox.run(
      'touch /usr/bin/evil 2>/dev/null && echo wrote-usr; touch /etc/evil 2>/dev/null && echo wrote-etc; ' +
        'ls /root /work 2>/dev/null && echo saw-host; ls /home; test -e /etc/shadow && echo saw-shadow; echo done',
    );
    expect(r.stdout).toBe('user\ndone\n');
    expect(existsSync('/etc/evil') || existsSync('/usr/bin/evil')).toBe(false);
  });

  it('runs in its own PID namespace without capabilities', async () => {
    const r = await sandbox.run('ls /proc | grep -c "^[0-9]"; grep CapEff /proc/self/status');
    const [count, caps] = r.stdout.trim().split('\n');
    expect(Number(count)).toBeLessThanOrEqual(5);
    expect(caps).toMatch(/CapEff:\s+0+$/);
  });

  it('runs the mounted Node 24 binary and cannot write to the mount', async () => {
    const r = await sandbox.run('/opt/node/bin/node -e "console.log(process.version)"; touch /opt/node/bin/x 2>/dev/null || echo read-only');
    expect(r.stdout).toBe(`${process.version}\nread-only\n`);
  });

  it('leaves no process on the host after a timeout', async () => {
    const marker = `${Math.floor(Math.random() * 1e6) + 1000}.25`;
    const r = await sandbox.run(`(sleep ${marker}) & sleep ${marker}`, { timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    const left = await until(
      async () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`sleep ${marker}`)),
      (l) => l.length === 0,
    );
    expect(left).toEqual([]);
  });

  describe('network', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer((socket) => socket.end('hello from the host\n'));
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((res) => server.close(() => res())));

    it("has only its own loopback with or without the flag: network: true never reaches the host's loopback by raw TCP", async () => {
      const probe = `timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}; cat <&3' || echo refused`;

      const off = await sandbox.run(probe);
      const on = await sandbox.run(probe, { network: true });

      expect(off.stdout).toBe('refused\n');
      expect(on.stdout).toBe('refused\n');
    });

    it('never sees resolv.conf: with the network on, the egress proxy resolves names', async () => {
      const off = await sandbox.run('test -e /etc/resolv.conf && echo yes || echo no');
      const on = await sandbox.run('test -e /etc/resolv.conf && echo yes || echo no', { network: true });
      expect([off.stdout, on.stdout]).toEqual(['no\n', 'no\n']);
    });

    it('with network: true, points HTTP clients (curl, pip, npm, apt, git) at the proxy in both cases', async () => {
      const r = await sandbox.run('for v in HTTP_PROXY HTTPS_PROXY http_proxy https_proxy; do printenv $v; done', { network: true });
      expect(r.stdout).toBe('http://127.0.0.1:3128\n'.repeat(4));
    });

    /** The status of `url` from this machine, or undefined when it does not reach it (then the check is skipped). */
    const reachable = (url: string) => fetch(url, { signal: AbortSignal.timeout(8000) }).then((res) => res.status, () => undefined);

    it("with network: true, install_packages' npm install works through the proxy (when this machine reaches the registry)", async () => {
      if ((await reachable('https://registry.npmjs.org/')) === undefined) return console.warn('skipped: this machine does not reach registry.npmjs.org');
      const r = await sandbox.run("npm install --no-fund --no-audit 'is-number' >/dev/null 2>&1; node -p \"require('is-number')(5)\"", { network: true, timeoutMs: 120_000 });
      expect(r.stdout).toBe('true\n');
    });

    it('with network: true, apt fetches a repository index through the proxy over plain HTTP (when this machine reaches deb.debian.org)', async () => {
      if ((await reachable('http://deb.debian.org/debian/')) === undefined) return console.warn('skipped: this machine does not reach deb.debian.org');
      // The sandbox has no /etc/apt and a read-only root, so apt gets its lists and sources under /tmp; the
      // index is fetched (and then fails its signature check, the keyring not being mounted): the proxy carried it.
      const dirs = '-o Dir::Etc::SourceList=/tmp/a/sources.list -o Dir::Etc::SourceParts=/tmp/a/parts -o Dir::State::Lists=/tmp/a/lists -o Dir::Cache=/tmp/a/cache -o Debug::NoLocking=1 -o APT::Sandbox::User=root';
      const r = await sandbox.run(
        `mkdir -p /tmp/a/lists/partial /tmp/a/cache/archives/partial /tmp/a/parts; echo 'deb http://deb.debian.org/debian bookworm main' > /tmp/a/sources.list; apt-get ${dirs} update 2>&1`,
        { network: true, timeoutMs: 120_000 },
      );
      expect(r.stdout).toMatch(/http:\/\/deb\.debian\.org\/debian bookworm InRelease/);
      expect(r.stdout).not.toMatch(/Could not resolve|Temporary failure resolving|Could not connect/);
    });

    it('with network: true, reaches a public host over HTTPS through the proxy (the npm registry, when this machine reaches it)', async () => {
      const direct = await reachable('https://registry.npmjs.org/');
      if (direct === undefined) return console.warn('skipped: this machine does not reach registry.npmjs.org');
      const r = await sandbox.run("curl -sS -m 20 -o /dev/null -w '%{http_code}' https://registry.npmjs.org/ 2>&1", { network: true, timeoutMs: 30_000 });
      expect(r.stdout).toBe(String(direct));
    });
  });

  it('wraps a long-lived stdio process so that it runs inside the sandbox', async () => {
    const spec = sandbox.wrapSpawn!({ command: '/bin/sh', args: ['-c', 'pwd; echo "$GIVEN"; read line; echo "got:$line"'] });

    const child = spawn(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stdin.end('ping\n');
    await new Promise((res) => child.on('close', res));

    expect(out).toBe('/workspace\nby-caller\ngot:ping\n');
    expect(spec.args).toContain('--unshare-net');
  });

  it("never puts environment values on bwrap's command line, where ps would show them", async () => {
    const canary = 'canary-secret-value-5f2e9a';
    const spec = sandbox.wrapSpawn!({ command: '/bin/sh', args: ['-c', 'echo "$API_SECRET"; echo "user=${USER:-unset}"'], env: { API_SECRET: canary } });
    expect(spec.args.join(' ')).not.toContain(canary);

    // As the MCP SDK's stdio transport does: the host's USER and LOGNAME are merged in, and must not get through.
    const child = spawn(spec.command, spec.args, { env: { USER: 'host-user', LOGNAME: 'host-user', ...spec.env }, cwd: spec.cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    await new Promise((res) => child.on('close', res));

    expect(out).toBe(`${canary}\nuser=unset\n`);
    const r = await sandbox.run('echo "$RUN_SECRET"', { env: { RUN_SECRET: canary } });
    expect(r.stdout).toBe(`${canary}\n`);
  });

  it('keeps the workspace after close by default, and removes it with removeWorkspace', async () => {
    const keep = (await provider.create({ taskId: 'keep-me' })) as LocalSandbox;
    const gone = (await new BubblewrapSandboxProvider({ home, removeWorkspace: true }).create({ taskId: 'remove-me' })) as LocalSandbox;
    await keep.writeFile('result.txt', 'x');
    await gone.writeFile('result.txt', 'x');

    await keep.close();
    await gone.close();

    expect(existsSync(join(keep.hostWorkspace, 'result.txt'))).toBe(true);
    expect(existsSync(gone.hostWorkspace)).toBe(false);
  });

  it('refuses task ids that cannot name a directory, and env that cannot be passed', async () => {
    await expect(provider.create({ taskId: '../escape' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(provider.create({ taskId: 'bad-env', env: { 'A=B': 'x' } })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(sandbox.run('true', { env: { OK: 'a\0b' } })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('reports its resources and workdir', async () => {
    expect(await sandbox.info()).toMatchObject({
      id: 'local-bwrap-specific',
      provider: 'local',
      workdir: '/workspace',
      network: 'off-by-default',
      resources: { cpus: expect.any(Number), memoryMb: expect.any(Number) },
    });
  });
});

describe('bubblewrap limits without a cgroup', () => {
  // As on a host where this process may not create cgroups (not root, no delegation).
  const provider = new BubblewrapSandboxProvider({ home, cgroups: false, resourceLimits: { memoryMb: 64, pids: 64, diskMb: 16 } });

  it('says memory is held per process and processes not at all, and still stops a 3x allocation naming memory', async () => {
    const sandbox = await provider.create({ taskId: 'no-cgroup' });
    try {
      expect(await provider.enforcedLimits()).toMatchObject({ memoryMb: { by: expect.stringContaining('RLIMIT_DATA') }, pids: { by: 'none' } });
      expect((await sandbox.info()).limits).toMatchObject({ pids: { value: 64, by: 'none' } });

      const e = await sandbox.run(`python3 -c "b = b'x' * (192 * 1024 * 1024)"`).then(
        () => undefined,
        (err: unknown) => err as { code: string; message: string },
      );

      expect(e).toMatchObject({ code: 'sandbox_limit', message: expect.stringContaining('memory limit (64 MB') });
      expect((await sandbox.run('echo next')).stdout).toBe('next\n');
    } finally {
      await sandbox.close();
    }
  });
});

describe('createSandboxProvider', () => {
  it('chooses by DEEP_AGENT_SANDBOX', async () => {
    const local = await createSandboxProvider(loadConfig({ DEEP_AGENT_HOME: home }));
    const unsafe = await createSandboxProvider(loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'unsafe-local' }));
    expect([local.name, unsafe.name]).toEqual(['local', 'unsafe-local']);
    const limited = await createSandboxProvider(
      loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX_MEMORY_MB: '300', DEEP_AGENT_SANDBOX_PIDS: '77', DEEP_AGENT_SANDBOX_DISK_MB: '99' }),
    );
    expect(await limited.enforcedLimits!()).toMatchObject({ memoryMb: { value: 300 }, pids: { value: 77 }, diskMb: { value: 99 } });
    expect(await local.enforcedLimits!()).toMatchObject({ memoryMb: { value: 2048 }, pids: { value: 512 }, diskMb: { value: 4096 } });
    const chosen = await unsafe.create({ taskId: 'chosen' });
    await chosen.close();
    expect(chosen.workdir).toBe(join(home, 'workspaces', 'chosen'));
  });

  it('refuses e2b without its key in one line', async () => {
    const e = await createSandboxProvider(loadConfig({ DEEP_AGENT_HOME: home, DEEP_AGENT_SANDBOX: 'e2b' })).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string },
    );
    expect(e).toMatchObject({ code: 'missing_config', message: expect.stringContaining('E2B_API_KEY') });
    expect(e!.message).not.toContain('\n');
  });
});
