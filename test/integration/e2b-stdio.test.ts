/**
 * `E2BSandbox.openStdio` on the test double of E2B's control plane (commands are real local processes): a
 * background command with stdin open, workspace-relative cwd, the sandbox's network rule, and kills.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { createE2BSandboxProvider, type E2BSandbox } from '../../lib/sandbox/e2b/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';
import { alive, until as waitUntil } from '../helpers/wait.js';

let fake: FakeE2B;
let sandbox: E2BSandbox;

beforeEach(async () => {
  fake = await FakeE2B.start();
  const provider = createE2BSandboxProvider(loadConfig({ E2B_API_KEY: 'e2b_test0123456789abcdef0123' }), {
    sdk: fake,
    options: { workdir: fake.workdir, keepAlive: { intervalSeconds: 0 } },
  });
  sandbox = await provider.create({ taskId: 'stdio-1' });
});
afterEach(async () => {
  await sandbox.close().catch(() => undefined);
  await fake.cleanup();
});

const collect = (on: (cb: (s: string) => void) => void) => {
  const box = { text: '' };
  on((s) => (box.text += s));
  return box;
};
const until = async (check: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('E2BSandbox.openStdio', () => {
  it('runs in a workspace-relative cwd with the given env, stdin open, and quotes arguments', async () => {
    // prepare
    await sandbox.writeFile('srv/marker.txt', 'here');
    // act
    const channel = await sandbox.openStdio({ command: '/bin/sh', args: ['-c', 'cat marker.txt; echo " $GREETING"; echo "$1"; cat', 'sh', "it's $HOME"], cwd: 'srv', env: { GREETING: 'hi' } });
    const out = collect(channel.onData);
    await channel.write('echoed back\n');
    await until(() => out.text.includes('echoed back'));
    // assess
    expect(out.text).toBe(`here hi\nit's $HOME\nechoed back\n`);
    expect(fake.callsOf('run').at(-1)?.args).toMatchObject({ cwd: `${fake.workdir}/srv`, stdin: true });
    expect(fake.callsOf('sendStdin')).toHaveLength(1);
    await channel.close();
  });

  it('refuses a cwd outside the workspace and an unknown directory', async () => {
    await expect(sandbox.openStdio({ command: 'cat', args: [], cwd: '../..' })).rejects.toMatchObject({ code: 'path_outside_workspace' });
    await expect(sandbox.openStdio({ command: 'cat', args: [], cwd: 'nope' })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('has no network unless asked; network: true turns it on while the process runs, off after close', async () => {
    // act
    const offline = await sandbox.openStdio({ command: 'cat', args: [] });
    const online = await sandbox.openStdio({ command: 'cat', args: [], network: true });
    // assess
    const started = fake.commands.filter((c) => c.stdin);
    expect(started.map((c) => c.network)).toEqual([false, true]);
    expect(fake.only().allowInternetAccess).toBe(true);
    await online.close();
    await until(() => fake.only().allowInternetAccess === false);
    await offline.close();
  });

  it('close kills the process and is heard as an exit; a write afterwards fails with sandbox_error', async () => {
    // prepare
    const channel = await sandbox.openStdio({ command: 'sleep', args: ['30'] });
    const exited = new Promise<number | null>((r) => channel.onExit(r));
    expect(alive(channel.pid!)).toBe(true);
    // act
    await channel.close();
    // assess
    expect(await exited).toBeNull();
    expect(alive(channel.pid!)).toBe(false);
    await expect(channel.write('x')).rejects.toMatchObject({ code: 'sandbox_error' });
    await channel.close(); // idempotent
  });

  it('output that arrives before anyone listens is kept; the exit code is reported', async () => {
    const channel = await sandbox.openStdio({ command: '/bin/sh', args: ['-c', 'echo early; echo warn >&2; exit 4'] });
    // Listen only once the process is gone, so that everything it printed came before any listener.
    await waitUntil(async () => alive(channel.pid!), (running) => !running);
    const code = await new Promise<number | null>((r) => channel.onExit(r));
    expect(collect(channel.onData).text).toBe('early\n');
    expect(collect(channel.onStderr).text).toBe('warn\n');
    expect(code).toBe(4);
  });

  it('closing the sandbox ends its stdio processes', async () => {
    const channel = await sandbox.openStdio({ command: 'sleep', args: ['30'] });
    const exited = new Promise<number | null>((r) => channel.onExit(r));
    await sandbox.close();
    await exited;
    expect(alive(channel.pid!)).toBe(false);
  });
});
