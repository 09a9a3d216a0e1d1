/**
 * Encrypted credentials of MCP connections (OAuth tokens, API keys) per account and connection.
 * AES-256-GCM with a random 12-byte IV per write; `accountId` and `connectionId` are bound in as
 * additional authenticated data, so a ciphertext copied to another row fails its check too.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { DeepAgentError } from '../errors/index.js';
import { type Clock, systemClock } from './database.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS credentials (
  account_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  iv BLOB NOT NULL,
  tag BLOB NOT NULL,
  ciphertext BLOB NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, connection_id)
);
`;

/** File name of the generated key inside `DEEP_AGENT_HOME`. */
export const SECRET_KEY_FILE = 'secret.key';

/**
 * Decodes a 32-byte key given as 64 hex characters or as base64; throws `invalid_input` otherwise.
 *
 * @example
 * parseSecretKey(config.serve.secretKey!);
 */
export function parseSecretKey(value: string): Buffer {
  const v = value.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(v) ? Buffer.from(v, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64') : undefined;
  if (!key || key.length !== 32) {
    throw new DeepAgentError('invalid_input', 'DEEP_AGENT_SECRET_KEY must be 32 bytes written as 64 hex characters or base64.');
  }
  return key;
}

/**
 * The credential key: `secretKey` (the value of `DEEP_AGENT_SECRET_KEY`) when given, else `<home>/secret.key`,
 * generated with mode 0600 on first use.
 *
 * @example
 * const key = loadSecretKey({ home: config.home, secretKey: config.serve.secretKey });
 */
export function loadSecretKey(options: { home: string; secretKey?: string }): Buffer {
  if (options.secretKey && options.secretKey.trim() !== '') return parseSecretKey(options.secretKey);
  const path = join(options.home, SECRET_KEY_FILE);
  if (!existsSync(path)) {
    mkdirSync(options.home, { recursive: true, mode: 0o700 });
    try {
      // 'wx': when two processes start at once, only one key is written and the other reads it.
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new DeepAgentError('invalid_input', `${path} must be readable by its owner only (chmod 600 ${path}).`);
  }
  return parseSecretKey(readFileSync(path, 'utf8'));
}

export interface CredentialEntry {
  accountId: string;
  connectionId: string;
  updatedAt: string;
}

interface Row {
  iv: Uint8Array;
  tag: Uint8Array;
  ciphertext: Uint8Array;
}

const aad = (accountId: string, connectionId: string) => Buffer.from(`${accountId}\u0000${connectionId}`, 'utf8');

/**
 * Stores credential JSON encrypted; the plaintext is never written.
 *
 * @example
 * const creds = new CredentialStore(db, loadSecretKey({ home }));
 * creds.put('acct', 'github', { token });
 * const value = creds.get<{ token: string }>('acct', 'github');
 */
export class CredentialStore {
  private readonly clock: Clock;

  constructor(
    private readonly db: DatabaseSync,
    private readonly key: Buffer,
    options: { clock?: Clock } = {},
  ) {
    if (key.length !== 32) throw new DeepAgentError('invalid_input', 'the credential key must be 32 bytes');
    this.clock = options.clock ?? systemClock;
    db.exec(SCHEMA);
  }

  /** Encrypts and stores (or replaces) the credential of one connection. */
  put(accountId: string, connectionId: string, value: unknown): void {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(aad(accountId, connectionId));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(value ?? null), 'utf8'), cipher.final()]);
    this.db
      .prepare(
        `INSERT INTO credentials (account_id, connection_id, iv, tag, ciphertext, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (account_id, connection_id) DO UPDATE SET iv = excluded.iv, tag = excluded.tag,
           ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
      )
      .run(accountId, connectionId, iv, cipher.getAuthTag(), ciphertext, this.clock());
  }

  /**
   * Decrypts a stored credential; undefined when there is none. Throws `internal` when the auth tag does not
   * verify (tampered data, or a different key than the one it was written with).
   */
  get<T = unknown>(accountId: string, connectionId: string): T | undefined {
    const row = this.db
      .prepare('SELECT iv, tag, ciphertext FROM credentials WHERE account_id = ? AND connection_id = ?')
      .get(accountId, connectionId) as unknown as Row | undefined;
    if (!row) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, row.iv, { authTagLength: 16 });
      decipher.setAAD(aad(accountId, connectionId));
      decipher.setAuthTag(row.tag);
      const plain = Buffer.concat([decipher.update(row.ciphertext), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch (e) {
      throw new DeepAgentError(
        'internal',
        `stored credential ${connectionId} failed its integrity check: it was altered or written with another DEEP_AGENT_SECRET_KEY`,
        undefined,
        { cause: e },
      );
    }
  }

  /** Returns true when a credential was removed. */
  delete(accountId: string, connectionId: string): boolean {
    const r = this.db.prepare('DELETE FROM credentials WHERE account_id = ? AND connection_id = ?').run(accountId, connectionId);
    return Number(r.changes) > 0;
  }

  /** The connections of one account that hold a credential (never the values). */
  list(accountId: string): CredentialEntry[] {
    const rows = this.db
      .prepare('SELECT account_id, connection_id, updated_at FROM credentials WHERE account_id = ? ORDER BY connection_id')
      .all(accountId) as { account_id: string; connection_id: string; updated_at: number }[];
    return rows.map((r) => ({ accountId: r.account_id, connectionId: r.connection_id, updatedAt: new Date(r.updated_at).toISOString() }));
  }
}
