import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openLocalStorage } from '../../lib/local/index.js';
import { Redactor } from '../../lib/secrets/index.js';
import { newTaskRecord } from '../../lib/task/index.js';

let home: string;
beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'local-storage-'))));
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('openLocalStorage', () => {
  it('opens one WAL database with a busy timeout that a second opener (another process) shares', async () => {
    // prepare
    const cli = openLocalStorage(join(home, 'nested'), { redactor: new Redactor(['shared-secret-xyz']) });
    const serve = openLocalStorage(join(home, 'nested'), { busyTimeoutMs: 2_000 });
    // act
    await cli.tasks.create(newTaskRecord({ id: 't1', prompt: 'p shared-secret-xyz', source: 'cli' }));
    cli.queue.send({ taskId: 't1' });
    const seen = await serve.tasks.get('t1');
    const received = serve.queue.receive({ visibilityTimeoutSeconds: 30 });
    // assess
    expect(cli.db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(serve.db.prepare('PRAGMA busy_timeout').get()).toEqual({ timeout: 2_000 });
    expect(seen?.prompt).toBe('p [REDACTED]');
    expect(received.map((m) => m.taskId)).toEqual(['t1']);
    expect(existsSync(join(home, 'nested', 'deep-agent.db'))).toBe(true);
    cli.close();
    serve.close();
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
