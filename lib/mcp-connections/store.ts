/**
 * Connection records in the local SQLite file (`mcp_connections`). Credentials are not here: they live
 * encrypted in the `credentials` table (CredentialStore); a record only names the credential fields.
 */
import type { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';

export const ConnectionStatusSchema = z.enum(['running', 'failed', 'stopped', 'needs_login']);
export type ConnectionStatus = z.infer<typeof ConnectionStatusSchema>;

export const McpConnectionSchema = z.object({
  id: z.string(),
  accountId: z.string(),
  definitionId: z.string(),
  /** The server name in tool names (`mcp__<name>__<tool>`); unique per account. */
  name: z.string(),
  status: ConnectionStatusSchema,
  tools: z.array(z.string()),
  /** Names of the stored credential fields, never their values. */
  credentialFields: z.array(z.string()),
  createdAt: z.string(),
  lastHealthAt: z.string().optional(),
  lastError: z.string().optional(),
});
export type McpConnection = z.infer<typeof McpConnectionSchema>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS mcp_connections (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  definition_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  tools TEXT NOT NULL,
  credential_fields TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_health_at TEXT,
  last_error TEXT,
  UNIQUE (account_id, name)
);
`;

interface Row {
  id: string;
  account_id: string;
  definition_id: string;
  name: string;
  status: string;
  tools: string;
  credential_fields: string;
  created_at: string;
  last_health_at: string | null;
  last_error: string | null;
}

const fromRow = (r: Row): McpConnection => ({
  id: r.id,
  accountId: r.account_id,
  definitionId: r.definition_id,
  name: r.name,
  status: ConnectionStatusSchema.parse(r.status),
  tools: JSON.parse(r.tools) as string[],
  credentialFields: JSON.parse(r.credential_fields) as string[],
  createdAt: r.created_at,
  ...(r.last_health_at ? { lastHealthAt: r.last_health_at } : {}),
  ...(r.last_error ? { lastError: r.last_error } : {}),
});

/**
 * @example
 * const records = new ConnectionRecords(openDatabase(home));
 * records.insert({ id, accountId, definitionId: 'everything', name: 'everything', status: 'running', tools: [], credentialFields: [], createdAt });
 */
export class ConnectionRecords {
  constructor(private readonly db: DatabaseSync) {
    db.exec(SCHEMA);
  }

  insert(c: McpConnection): void {
    this.db
      .prepare(
        `INSERT INTO mcp_connections (id, account_id, definition_id, name, status, tools, credential_fields, created_at, last_health_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(c.id, c.accountId, c.definitionId, c.name, c.status, JSON.stringify(c.tools), JSON.stringify(c.credentialFields), c.createdAt, c.lastHealthAt ?? null, c.lastError ?? null);
  }

  /** Updates status, tools, health time and error (an absent `lastError` clears it). */
  update(id: string, patch: Pick<McpConnection, 'status' | 'tools'> & { lastHealthAt?: string; lastError?: string }): void {
    this.db
      .prepare('UPDATE mcp_connections SET status = ?, tools = ?, last_health_at = COALESCE(?, last_health_at), last_error = ? WHERE id = ?')
      .run(patch.status, JSON.stringify(patch.tools), patch.lastHealthAt ?? null, patch.lastError ?? null, id);
  }

  /** The connection when it belongs to `accountId`. */
  get(accountId: string, id: string): McpConnection | undefined {
    const r = this.db.prepare('SELECT * FROM mcp_connections WHERE id = ? AND account_id = ?').get(id, accountId) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  byName(accountId: string, name: string): McpConnection | undefined {
    const r = this.db.prepare('SELECT * FROM mcp_connections WHERE account_id = ? AND name = ?').get(accountId, name) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  list(accountId: string): McpConnection[] {
    return (this.db.prepare('SELECT * FROM mcp_connections WHERE account_id = ? ORDER BY created_at, id').all(accountId) as unknown as Row[]).map(fromRow);
  }

  /** Every account's connections with `status` (restart on start). */
  withStatus(status: McpConnection['status']): McpConnection[] {
    return (this.db.prepare('SELECT * FROM mcp_connections WHERE status = ? ORDER BY created_at, id').all(status) as unknown as Row[]).map(fromRow);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM mcp_connections WHERE id = ?').run(id);
  }
}
