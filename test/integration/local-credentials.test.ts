import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CredentialStore, loadSecretKey, openDatabase, parseSecretKey } from '../../lib/local/index.js';

const PLAINTEXT = 'gho_plaintextCanaryToken0123456789abcdef';

let home: string;
let db: DatabaseSync;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'local-creds-'));
  db = openDatabase(home);
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

describe('CredentialStore', () => {
  it('round-trips credential JSON and never writes the plaintext to the database files', () => {
    // prepare
    const creds = new CredentialStore(db, loadSecretKey({ home }));
    // act
    creds.put('acct-1', 'github', { token: PLAINTEXT, scopes: ['repo'] });
    creds.put('acct-1', 'notion', { token: 'other' });
    creds.put('acct-1', 'github', { token: PLAINTEXT, scopes: ['repo', 'gist'] });
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    // assess
    expect(creds.get('acct-1', 'github')).toEqual({ token: PLAINTEXT, scopes: ['repo', 'gist'] });
    expect(creds.get('acct-2', 'github')).toBeUndefined();
    expect(creds.list('acct-1').map((c) => c.connectionId)).toEqual(['github', 'notion']);
    for (const f of readdirSync(home)) {
      expect(readFileSync(join(home, f)).includes(Buffer.from(PLAINTEXT)), f).toBe(false);
    }
    expect(creds.delete('acct-1', 'notion')).toBe(true);
    expect(creds.get('acct-1', 'notion')).toBeUndefined();
  });

  it('uses a fresh IV for every write', () => {
    const creds = new CredentialStore(db, randomBytes(32));
    const ivs = new Set<string>();
    for (let i = 0; i < 5; i++) {
      creds.put('a', 'c', { same: true });
      const row = db.prepare('SELECT iv, ciphertext FROM credentials').get() as { iv: Uint8Array; ciphertext: Uint8Array };
      expect(row.iv).toHaveLength(12);
      ivs.add(Buffer.from(row.iv).toString('hex'));
    }
    expect(ivs.size).toBe(5);
  });

  it('detects tampered ciphertext, a swapped row and a wrong key', () => {
    // prepare
    const key = randomBytes(32);
    const creds = new CredentialStore(db, key);
    creds.put('a', 'github', { token: PLAINTEXT });
    creds.put('a', 'notion', { token: 'n' });
    // act: flip one bit of the github ciphertext; copy notion's row onto another connection id
    const row = db.prepare("SELECT ciphertext FROM credentials WHERE connection_id = 'github'").get() as { ciphertext: Uint8Array };
    const flipped = Buffer.from(row.ciphertext);
    flipped[0] = flipped[0]! ^ 1;
    db.prepare("UPDATE credentials SET ciphertext = ? WHERE connection_id = 'github'").run(flipped);
    db.exec("INSERT INTO credentials SELECT account_id, 'copied', iv, tag, ciphertext, updated_at FROM credentials WHERE connection_id = 'notion'");
    // assess
    expect(() => creds.get('a', 'github')).toThrow(expect.objectContaining({ code: 'internal', message: expect.stringContaining('integrity') }));
    expect(() => creds.get('a', 'copied')).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => new CredentialStore(db, randomBytes(32)).get('a', 'notion')).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(creds.get('a', 'notion')).toEqual({ token: 'n' });
  });

  it('generates <home>/secret.key with mode 0600 once, and reuses it', () => {
    const first = loadSecretKey({ home });
    const second = loadSecretKey({ home });
    expect(first).toHaveLength(32);
    expect(second.equals(first)).toBe(true);
    expect(statSync(join(home, 'secret.key')).mode & 0o777).toBe(0o600);
    chmodSync(join(home, 'secret.key'), 0o644);
    expect(() => loadSecretKey({ home })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('takes DEEP_AGENT_SECRET_KEY as hex or base64 and refuses other lengths in one line', () => {
    const key = randomBytes(32);
    expect(loadSecretKey({ home, secretKey: key.toString('hex') }).equals(key)).toBe(true);
    expect(loadSecretKey({ home, secretKey: key.toString('base64') }).equals(key)).toBe(true);
    expect(readdirSync(home)).not.toContain('secret.key');
    expect(() => parseSecretKey('abcd')).toThrow(expect.objectContaining({ code: 'invalid_input', message: expect.stringMatching(/DEEP_AGENT_SECRET_KEY/) }));
    expect(() => parseSecretKey(randomBytes(16).toString('hex'))).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});
