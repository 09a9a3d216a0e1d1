/**
 * The sandbox contract: what every `SandboxProvider` promises (commands, files, timeouts, background
 * processes, kill on close, isolation, output caps). Each provider's test file calls
 * `describeSandboxContract` once; E2B's runs only when its key is present.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxProvider } from '../../lib/sandbox/types.js';
import type { ResourceLimits, ResourceName } from '../../lib/sandbox/shared/index.js';
import { until } from './wait.js';

export interface SandboxContractOptions {
  /** When set, the suite registers one skipped test whose title is this reason. */
  skip?: string;
  /**
   * False for providers that do not isolate (unsafe-local): host-visibility checks are left out. Network
   * blocking is checked whenever the sandbox reports `network: 'off-by-default'`.
   * @default true
   */
  isolated?: boolean;
  /** The provider's per-stream output cap in bytes. @default 262144 */
  maxOutputBytes?: number;
  /**
   * True when `network: true` gives the sandbox this machine's network unguarded (unsafe-local, the E2B double);
   * false for a sandbox on another machine (real E2B), whose loopback is its own, and for one that guards
   * egress (`enforcesHostLists`), where this machine's loopback must stay unreachable.
   * @default true
   */
  sharesHostNetwork?: boolean;
  /**
   * The provider with small resource limits, for the limit checks (a 3x allocation, a fork bomb, a write past
   * the quota). Without it those checks are skipped.
   */
  makeLimitedProvider?(limits: ResourceLimits): Promise<SandboxProvider> | SandboxProvider;
  /** Limits this provider cannot hold where the suite runs, each with the reason (the check is skipped). */
  cannotHold?: Partial<Record<ResourceName, string>>;
  /** Host path of a sandbox's workspace, for providers whose workspace lives on this machine. */
  hostWorkspace?(sandbox: Sandbox): string | undefined;
  /**
   * True when a host list in `network` is held per command on this machine (bubblewrap's egress proxy): the
   * allowlist checks run against listeners on this machine's loopback.
   * @default false
   */
  enforcesHostLists?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const taskId = (what: string) => `contract-${what}-${randomUUID().slice(0, 8)}`;

/** Waits until `check` returns true, at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return true;
    await sleep(100);
  }
  return false;
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message?: string };
  }
  throw new Error('expected a rejection');
}

/**
 * A TCP listener on this machine's loopback that greets whoever connects: what a sandbox without network must
 * not reach (a public host would prove nothing where DNS or the internet is off anyway), and what
 * `network: true` reaches on providers that share the host's network.
 */
async function startHostListener(): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((socket) => socket.end('hello from the host\n'));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

/** An HTTP listener on this machine's loopback that names itself: what an allowlisted command may reach. */
async function startHttpListener(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createHttpServer((_req, res) => res.end(`hello from ${name}\n`));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
}

/** curl through the proxy the sandbox's environment names (prints the body, or the proxy's refusal, or curl's error). */
const httpProbe = (url: string) => `curl -sS -m 5 ${url} 2>&1; echo`;

const tcpProbe = (port: number) => `timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}; cat <&3' || echo unreachable`;

/** Waits until `read` gives the same value twice, `intervalMs` apart: whatever was writing it has stopped. */
async function untilSteady<T>(read: () => Promise<T>, intervalMs = 400): Promise<T> {
  let last: { value: T } | undefined;
  await until(
    async () => {
      const value = await read();
      const same = last !== undefined && last.value === value;
      last = { value };
      return same;
    },
    (same) => same,
    10_000,
    intervalMs,
  );
  return last!.value;
}

/**
 * Registers the contract tests for one provider.
 *
 * @example
 * describeSandboxContract('bubblewrap', () => new BubblewrapSandboxProvider({ home }));
 * describeSandboxContract('e2b', makeE2B, { skip: key ? undefined : 'E2B contract skipped: E2B_API_KEY is not set' });
 */
export function describeSandboxContract(
  name: string,
  makeProvider: () => Promise<SandboxProvider> | SandboxProvider,
  opts: SandboxContractOptions = {},
): void {
  if (opts.skip) {
    describe(`sandbox contract: ${name}`, () => {
      it.skip(opts.skip!, () => {});
    });
    return;
  }
  const isolated = opts.isolated ?? true;
  const cap = opts.maxOutputBytes ?? 256 * 1024;

  describe(`sandbox contract: ${name}`, () => {
    let provider: SandboxProvider;
    let sandbox: Sandbox;
    const extra: Sandbox[] = [];
    const fresh = async (what: string) => {
      const s = await provider.create({ taskId: taskId(what) });
      extra.push(s);
      return s;
    };

    beforeAll(async () => {
      provider = await makeProvider();
      sandbox = await provider.create({ taskId: taskId('main') });
    });
    afterAll(async () => {
      await Promise.all([sandbox, ...extra].filter(Boolean).map((s) => s.close()));
    });

    describe('commands', () => {
      it('returns stdout, stderr and the exit code', async () => {
        const r = await sandbox.run('echo out; echo err >&2; exit 3');
        expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 3, timedOut: false, truncated: false });
        expect(r.durationMs).toBeGreaterThanOrEqual(0);
      });

      it('runs in the workspace, or in cwd relative to it', async () => {
        await sandbox.writeFile('sub/dir/note.txt', 'in sub');
        const root = await sandbox.run('pwd');
        const sub = await sandbox.run('pwd; cat note.txt', { cwd: 'sub/dir' });
        expect(root.stdout.trim()).toBe(sandbox.workdir);
        expect(sub.stdout).toBe(`${sandbox.workdir}/sub/dir\nin sub`);
      });

      it('passes the env it is given and streams output as it comes', async () => {
        const chunks: string[] = [];
        const r = await sandbox.run('echo "$GREETING"', { env: { GREETING: 'hello there' }, onStdout: (c) => chunks.push(c) });
        expect(r.stdout).toBe('hello there\n');
        expect(chunks.join('')).toBe('hello there\n');
      });

      it('does not leak the host process environment', async () => {
        const canary = `canary-${randomUUID()}`;
        process.env.DEEP_AGENT_CONTRACT_CANARY = canary;
        try {
          const s = await fresh('env');
          const r = await s.run('env');
          expect(r.stdout).not.toContain(canary);
        } finally {
          delete process.env.DEEP_AGENT_CONTRACT_CANARY;
        }
      });
    });

    describe('files', () => {
      it('writes text with parent directories and reads it back, also by its in-sandbox absolute path', async () => {
        await sandbox.writeFile('a/b/c/hello.txt', 'héllo\nwörld');
        expect(await sandbox.readFile('a/b/c/hello.txt')).toBe('héllo\nwörld');
        expect(await sandbox.readFile(`${sandbox.workdir}/a/b/c/hello.txt`)).toBe('héllo\nwörld');
        expect((await sandbox.run('cat a/b/c/hello.txt')).stdout).toBe('héllo\nwörld');
      });

      it('round-trips binary content', async () => {
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        await sandbox.writeFile('bin/all-bytes.bin', bytes);
        expect(Array.from(await sandbox.readFileBytes('bin/all-bytes.bin'))).toEqual(Array.from(bytes));
        expect((await sandbox.run('wc -c < bin/all-bytes.bin')).stdout.trim()).toBe('256');
      });

      it('sees files that commands wrote', async () => {
        await sandbox.run('mkdir -p made && printf "by command" > made/by-cmd.txt');
        expect(await sandbox.readFile('made/by-cmd.txt')).toBe('by command');
      });

      it('lists files recursively without entering node_modules', async () => {
        const s = await fresh('list');
        await s.writeFile('src/index.ts', 'export {};');
        await s.writeFile('src/lib/util.ts', 'x');
        await s.writeFile('node_modules/pkg/index.js', 'x');
        const all = await s.listFiles();
        const paths = all.map((e) => e.path);
        expect(paths).toEqual(expect.arrayContaining(['src', 'src/index.ts', 'src/lib', 'src/lib/util.ts', 'node_modules']));
        expect(paths).not.toContain('node_modules/pkg/index.js');
        expect(all.find((e) => e.path === 'src/index.ts')).toMatchObject({ type: 'file', size: 10 });
        expect(all.find((e) => e.path === 'src/lib')).toMatchObject({ type: 'dir' });
        expect((await s.listFiles('src/lib')).map((e) => e.path)).toEqual(['src/lib/util.ts']);
      });

      it('reports a missing file as not_found', async () => {
        expect((await rejection(sandbox.readFile('no/such/file.txt'))).code).toBe('not_found');
      });
    });

    describe('path escapes', () => {
      const refused = async (p: Promise<unknown>) => expect((await rejection(p)).code).toBe('path_outside_workspace');

      it('refuses .. traversal and absolute paths outside the workspace', async () => {
        await refused(sandbox.readFile('../outside.txt'));
        await refused(sandbox.readFile('a/../../outside.txt'));
        await refused(sandbox.readFile('/etc/passwd'));
        await refused(sandbox.writeFile('../../escape.txt', 'x'));
        await refused(sandbox.listFiles('..'));
      });

      it('refuses symlinks that point outside, also through a parent directory, and dangling ones', async () => {
        const r = await sandbox.run(
          'mkdir -p links && ln -sfn /etc links/etc-dir && ln -sf /etc/passwd links/passwd && ln -sfn .. links/up && ' +
            `ln -sf /tmp/dangling-${randomUUID()} links/dangling && ln -sf ../a/b/c/hello.txt links/inside`,
        );
        expect(r.exitCode).toBe(0);
        await refused(sandbox.readFile('links/passwd'));
        await refused(sandbox.readFile('links/etc-dir/passwd'));
        await refused(sandbox.readFile('links/up/../outside.txt'));
        await refused(sandbox.writeFile('links/etc-dir/evil.txt', 'x'));
        await refused(sandbox.writeFile('links/dangling', 'x'));
        await refused(sandbox.listFiles('links/etc-dir'));
        expect(await sandbox.readFile('links/inside')).toBe('héllo\nwörld');
      });
    });

    describe('timeouts and cancellation', () => {
      it('kills the whole process tree when the timeout runs out', async () => {
        const started = Date.now();
        const r = await sandbox.run('(while true; do echo t >> ticks.txt; sleep 0.1; done) & sleep 30', { timeoutMs: 800 });
        expect(r).toMatchObject({ timedOut: true, exitCode: null });
        expect(Date.now() - started).toBeLessThan(8000);
        // The loop ticks every 0.1 s: a file that stays the same for 0.4 s has no writer left.
        await untilSteady(async () => (await sandbox.readFile('ticks.txt')).length);
      });

      it('stops a command when its signal aborts', async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 300);
        const started = Date.now();
        const e = await rejection(sandbox.run('sleep 30', { signal: controller.signal }));
        expect(e.code).toBe('cancelled');
        expect(Date.now() - started).toBeLessThan(8000);
      });
    });

    describe('background processes', () => {
      it('returns at once with a handle while the command keeps running', async () => {
        const started = Date.now();
        const r = await sandbox.run('echo started > bg-started.txt; sleep 30', { background: true });
        expect(Date.now() - started).toBeLessThan(5000);
        expect(r.backgroundId).toEqual(expect.any(String));
        expect(await eventually(async () => (await sandbox.readFile('bg-started.txt')) === 'started\n')).toBe(true);
      });

      it('kills background processes on close; close is idempotent and ends the sandbox', async () => {
        const s = await provider.create({ taskId: taskId('close') });
        const host = opts.hostWorkspace?.(s);
        await s.run('while true; do echo t >> ticks.txt; sleep 0.1; done', { background: true });
        expect(await eventually(async () => (await s.readFile('ticks.txt')).length > 0)).toBe(true);
        await s.close();
        await s.close();
        await expect(s.run('echo hi')).rejects.toThrow();
        if (host) await untilSteady(async () => (await readFile(join(host, 'ticks.txt'), 'utf8')).length);
      });

      it('closes through Symbol.asyncDispose', async () => {
        const s = await provider.create({ taskId: taskId('dispose') });
        await s[Symbol.asyncDispose]();
        await expect(s.run('echo hi')).rejects.toThrow();
      });
    });

    describe('isolation', () => {
      it('has no network by default when it says so; network: true reaches a listener on this machine only where egress is unguarded', async () => {
        const info = await sandbox.info();
        expect(info).toMatchObject({ id: sandbox.id, provider: provider.name, workdir: sandbox.workdir });
        const listener = await startHostListener();
        try {
          const off = await sandbox.run(tcpProbe(listener.port), { timeoutMs: 15_000 });
          const on = await sandbox.run(tcpProbe(listener.port), { network: true, timeoutMs: 15_000 });
          if (info.network === 'off-by-default') expect(off.stdout).toBe('unreachable\n');
          // A cloud sandbox (real E2B) is another machine: its 127.0.0.1 is not ours, so only its refusal is shown.
          if (opts.enforcesHostLists) expect(on.stdout).toBe('unreachable\n');
          else if (opts.sharesHostNetwork ?? true) expect(on.stdout).toBe('hello from the host\n');
        } finally {
          await listener.close();
        }
      });

      it.runIf(opts.enforcesHostLists ?? false)('network: true refuses this machine\'s loopback, localhost, metadata and private addresses (by proxy or raw TCP); listing the address literally reaches it', async () => {
        const a = await startHttpListener('A');
        try {
          const r = await sandbox.run(
            [
              httpProbe(`http://127.0.0.1:${a.port}/`),
              httpProbe(`http://localhost:${a.port}/`),
              httpProbe(`http://[::ffff:127.0.0.1]:${a.port}/`),
              httpProbe('http://169.254.169.254/latest/meta-data/'),
              httpProbe('http://10.0.0.1/'),
              tcpProbe(a.port),
            ].join('; '),
            { network: true, timeoutMs: 30_000 },
          );
          expect(r.stdout).not.toContain('hello from A');
          expect(r.stdout.match(/blocked by network allowlist/g)).toHaveLength(5);
          expect(r.stdout.split('\n').filter(Boolean).at(-1)).toBe('unreachable');
          const listed = await sandbox.run(httpProbe(`http://127.0.0.1:${a.port}/`), { network: [`127.0.0.1:${a.port}`], timeoutMs: 30_000 });
          expect(listed.stdout).toContain('hello from A');
        } finally {
          await a.close();
        }
      });

      it.runIf(opts.enforcesHostLists ?? false)('with network: ["127.0.0.1:<A>"] reaches port A, not port B (by proxy or raw TCP), nor names', async () => {
        const a = await startHttpListener('A');
        const b = await startHttpListener('B');
        try {
          const r = await sandbox.run(
            [httpProbe(`http://127.0.0.1:${a.port}/`), httpProbe(`http://127.0.0.1:${b.port}/`), httpProbe(`http://localhost:${a.port}/`), httpProbe('https://example.org/'), tcpProbe(b.port)].join('; '),
            { network: [`127.0.0.1:${a.port}`], timeoutMs: 30_000 },
          );
          const lines = r.stdout.split('\n').filter(Boolean);
          expect(lines[0]).toBe('hello from A');
          expect(lines.slice(1)).not.toContain('hello from B');
          expect(r.stdout.match(/hello from/g)).toHaveLength(1);
          expect(r.stdout).toMatch(/blocked by network allowlist/);
          expect(lines.at(-1)).toBe('unreachable');
          // the next command without network has none
          expect((await sandbox.run(httpProbe(`http://127.0.0.1:${a.port}/`))).stdout).not.toContain('hello from A');
        } finally {
          await a.close();
          await b.close();
        }
      });

      it.runIf(opts.enforcesHostLists ?? false)("a task's allowlist bounds a command that asks for network: true, and refuses a host outside it", async () => {
        const a = await startHttpListener('A');
        const b = await startHttpListener('B');
        const bounded = await provider.create({ taskId: taskId('bounded'), network: { allow: [`127.0.0.1:${a.port}`] } });
        extra.push(bounded);
        try {
          const r = await bounded.run([httpProbe(`http://127.0.0.1:${a.port}/`), httpProbe(`http://127.0.0.1:${b.port}/`), tcpProbe(b.port)].join('; '), { network: true, timeoutMs: 30_000 });
          expect(r.stdout.split('\n').filter(Boolean)).toEqual(['hello from A', expect.stringMatching(/blocked by network allowlist/), 'unreachable']);
          expect(await rejection(bounded.run('true', { network: [`127.0.0.1:${b.port}`] }))).toMatchObject({ code: 'network_disabled', message: expect.stringContaining(`127.0.0.1:${b.port}`) });
        } finally {
          await a.close();
          await b.close();
        }
      });

      it.runIf(isolated)("cannot see the host user's home or the project directory", async () => {
        const canary = join(homedir(), `.deep-agent-contract-canary-${randomUUID()}`);
        await writeFile(canary, 'secret');
        try {
          const projectFile = join(process.cwd(), 'package.json');
          expect(existsSync(projectFile)).toBe(true);
          const r = await sandbox.run(`cat ${canary}; cat ${projectFile}; echo done`);
          expect(r.stdout).toBe('done\n');
        } finally {
          await rm(canary, { force: true });
        }
      });
    });

    describe('resource limits', () => {
      const small: ResourceLimits = { memoryMb: 64, pids: 64, diskMb: 16 };
      let limited: Sandbox;
      beforeAll(async () => {
        if (!opts.makeLimitedProvider) return;
        limited = await (await opts.makeLimitedProvider(small)).create({ taskId: taskId('limits') });
        extra.push(limited);
      });
      const check = (limit: ResourceName, title: string, fn: () => Promise<void>) => {
        const reason = !opts.makeLimitedProvider ? 'no limited provider given' : opts.cannotHold?.[limit];
        if (reason) it.skip(`${title} (skipped: ${reason})`, () => {});
        else it(title, fn);
      };
      /** The sandbox still answers, and so does a new one: the limit stopped the command, not the sandbox or the host. */
      const stillHealthy = async () => {
        expect((await limited.run('echo still here')).stdout).toBe('still here\n');
        expect((await sandbox.run('echo host fine')).stdout).toBe('host fine\n');
      };

      it.runIf(Boolean(opts.makeLimitedProvider))('says how each limit is held', async () => {
        const info = await limited.info();
        expect(info.limits).toMatchObject({ memoryMb: { value: 64 }, pids: { value: 64 }, diskMb: { value: 16 } });
      });

      check('memoryMb', 'stops a 3x-limit allocation with a tool error naming memory', async () => {
        const e = await rejection(limited.run(`python3 -c "b = b'x' * (${3 * small.memoryMb} * 1024 * 1024); print(len(b))"`, { timeoutMs: 30_000 }));
        expect(e.code).toBe('sandbox_limit');
        expect(e.message).toMatch(/memory limit \(64 MB/);
        await stillHealthy();
      });

      check('pids', 'contains a fork bomb with the process limit, and names it', async () => {
        const started = Date.now();
        const e = await rejection(limited.run(':(){ :|:& };:; sleep 20', { timeoutMs: 30_000 }));
        expect(e.code).toBe('sandbox_limit');
        expect(e.message).toMatch(/process limit \(64 processes/);
        expect(Date.now() - started).toBeLessThan(25_000);
        await stillHealthy();
      });

      check('diskMb', 'fails a write past the disk quota with an error naming it', async () => {
        const e = await rejection(limited.run('head -c 32M /dev/zero > big.bin; echo after', { timeoutMs: 30_000 }));
        expect(e.code).toBe('sandbox_limit');
        expect(e.message).toMatch(/disk quota \(16 MB/);
        const size = Number((await limited.run('stat -c %s big.bin')).stdout.trim());
        expect(size).toBeLessThanOrEqual(16 * 2 ** 20);
        await limited.run('rm -f big.bin');
        await stillHealthy();
      });

      check('diskMb', 'fails many smaller writes that together pass the disk quota', async () => {
        const e = await rejection(limited.run('for i in 1 2 3 4 5 6 7 8; do head -c 4M /dev/zero > part-$i.bin; done; echo after', { timeoutMs: 30_000 }));
        expect(e.code).toBe('sandbox_limit');
        expect(e.message).toMatch(/disk quota/);
        await limited.run('rm -f part-*.bin');
        await stillHealthy();
      });
    });

    describe('output caps', () => {
      it(`keeps at most ${cap} bytes per stream and says it truncated`, async () => {
        const r = await sandbox.run(`head -c ${cap + 50_000} /dev/zero | tr '\\0' a; echo small >&2`);
        expect(r.truncated).toBe(true);
        expect(r.stdout.length).toBeLessThanOrEqual(cap);
        expect(r.stdout.length).toBeGreaterThan(cap / 2);
        expect(r.stdout).toMatch(/^a+$/);
        expect(r.stderr).toBe('small\n');
        expect(r.exitCode).toBe(0);
      });
    });
  });
}
