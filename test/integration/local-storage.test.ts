import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStorage } from '../../lib/local/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';
import { REPO_ROOT } from '../helpers/cli.js';

const execFileAsync = promisify(execFile);

/** The second opener, run in a child Node process through the project's tsx loader; prints what it saw. */
const SECOND_PROCESS = `
const dir = process.argv[1];
const { openLocalStorage } = await import('./lib/local/index.ts');
const { newTaskRecord } = await import('./lib/task/index.ts');
const storage = openLocalStorage(dir, { busyTimeoutMs: 2000 });
const seen = await storage.tasks.get('t1');
const received = storage.queue.receive({ visibilityTimeoutSeconds: 30 });
await storage.tasks.create(newTaskRecord({ id: 't2', prompt: 'written by the other process', source: 'http' }));
storage.queue.send({ taskId: 't2' });
const busyTimeout = storage.db.prepare('PRAGMA busy_timeout').get();
storage.close();
process.stdout.write(JSON.stringify({ pid: process.pid, prompt: seen?.prompt, received: received.map((m) => m.taskId), busyTimeout }));
`;

let home: string;
beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'local-storage-'))));
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('openLocalStorage', () => {
  it('opens one WAL database with a busy timeout that another process shares, both ways', async () => {
    // prepare
    const dir = join(home, 'nested');
    const cli = openLocalStorage(dir, { redactor: new Redactor(['shared-secret-xyz']) });
    await cli.tasks.create(newTaskRecord({ id: 't1', prompt: 'p shared-secret-xyz', source: 'cli' }));
    cli.queue.send({ taskId: 't1' });
    // act: a second Node process (as `serve` beside a `run`) opens the same file, reads and writes
    const { stdout } = await execFileAsync(process.execPath, ['--no-warnings=ExperimentalWarning', '--import', 'tsx', '--input-type=module', '-e', SECOND_PROCESS, dir], { cwd: REPO_ROOT });
    const other = JSON.parse(stdout) as { pid: number; prompt?: string; received: string[]; busyTimeout: unknown };
    const fromOther = await cli.tasks.get('t2');
    const receivedHere = cli.queue.receive({ visibilityTimeoutSeconds: 30 });
    // assess
    expect(other.pid).not.toBe(process.pid);
    expect(cli.db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(other.busyTimeout).toEqual({ timeout: 2_000 });
    expect(other.prompt).toBe('p [REDACTED]');
    expect(other.received).toEqual(['t1']);
    expect(fromOther?.prompt).toBe('written by the other process');
    // t1 is invisible while the other process holds it; t2 is the other's message
    expect(receivedHere.map((m) => m.taskId)).toEqual(['t2']);
    expect(existsSync(join(dir, 'deep-agent.db'))).toBe(true);
    cli.close();
  });

  it('keeps deep-agent.db, its WAL and shared memory owner-only (0600), a file made earlier included', async () => {
    // prepare: a database file left world-readable by an older version, and a permissive umask
    writeFileSync(join(home, 'deep-agent.db'), '');
    chmodSync(join(home, 'deep-agent.db'), 0o644);
    const umask = process.umask(0o022);
    try {
      // act
      const storage = openLocalStorage(home);
      await storage.tasks.create(newTaskRecord({ id: 'm1', prompt: 'private prompt', source: 'cli' }));
      // assess
      for (const file of ['deep-agent.db', 'deep-agent.db-wal', 'deep-agent.db-shm']) {
        expect(statSync(join(home, file)).mode & 0o777, file).toBe(0o600);
      }
      storage.close();
      const fresh = join(home, 'fresh');
      openLocalStorage(fresh).close();
      expect(statSync(join(fresh, 'deep-agent.db')).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(umask);
    }
  });

  it('creates the key file only when credentials are first used, and closes on dispose', async () => {
    let db;
    {
      using storage = openLocalStorage(home);
      db = storage.db;
      expect(existsSync(join(home, 'secret.key'))).toBe(false);
      storage.credentials.put('a', 'c', { token: 't' });
      expect(storage.credentials.get('a', 'c')).toEqual({ token: 't' });
      expect(existsSync(join(home, 'secret.key'))).toBe(true);
      expect(await storage.journal('t1').step('s', async () => 42)).toBe(42);
    }
    expect(db.isOpen).toBe(false);
  });
});
