import { describe, expect, it } from 'vitest';
import { isLoginRequired, OAuthRecords, parseMcpConfig, StoredOAuthProvider, type OAuthSecretStore } from '../../lib/mcp/index.js';
import { Redactor } from '../../lib/secrets/index.js';

/** The credential-store port in memory (the real one is AES-256-GCM in SQLite). */
function memoryStore(): OAuthSecretStore & { rows: Map<string, unknown> } {
  const rows = new Map<string, unknown>();
  return {
    rows,
    get: <T>(a: string, k: string) => rows.get(`${a}/${k}`) as T | undefined,
    put: (a, k, v) => void rows.set(`${a}/${k}`, structuredClone(v)),
    delete: (a, k) => rows.delete(`${a}/${k}`),
  };
}

describe('the "oauth" entry of .mcp.json', () => {
  it('expands ${VAR} in client id, secret, scopes and metadata URL', () => {
    const text = JSON.stringify({
      mcpServers: {
        notion: { url: 'https://mcp.example.com/mcp', oauth: { clientId: '${CID}', clientSecret: '${CSECRET}', scopes: ['read', '${EXTRA}'], clientMetadataUrl: 'https://me.example/${DOC}', callbackPort: 8765 } },
        plain: { url: 'https://other.example/mcp' },
      },
    });
    const { servers } = parseMcpConfig(text, '.mcp.json', { CID: 'client-1', CSECRET: 'shh-secret-value', EXTRA: 'write', DOC: 'client.json' });
    expect(servers.notion).toMatchObject({ oauth: { clientId: 'client-1', clientSecret: 'shh-secret-value', scopes: 'read write', clientMetadataUrl: 'https://me.example/client.json', callbackPort: 8765 } });
    expect(servers.plain).not.toHaveProperty('oauth');
  });

  it('disables a server whose oauth entry names an unset variable, and rejects unknown keys', () => {
    const missing = parseMcpConfig(JSON.stringify({ mcpServers: { s: { url: 'https://x.example/mcp', oauth: { clientId: '${NOPE}' } } } }), '.mcp.json', {});
    expect(missing.disabled.s).toBe('NOPE is not set (named in .mcp.json)');
    expect(() => parseMcpConfig(JSON.stringify({ mcpServers: { s: { url: 'https://x.example/mcp', oauth: { client_id: 'x' } } } }), '.mcp.json', {})).toThrow(/s.oauth/);
  });
});

describe('StoredOAuthProvider', () => {
  const serverUrl = 'https://mcp.example.com/mcp';

  it('without a person, refuses to register or redirect (mcp_login_required with the command), and writes nothing', () => {
    const store = memoryStore();
    const p = new StoredOAuthProvider({ server: 'notion', serverUrl, records: new OAuthRecords(store, 'acct') });
    let err: unknown;
    try {
      p.clientInformation();
    } catch (e) {
      err = e;
    }
    expect(isLoginRequired(err)).toBe(true);
    expect((err as Error).message).toBe('MCP server "notion" needs a login (no stored login): run deep-agent mcp login notion');
    expect(() => p.redirectToAuthorization(new URL('https://as.example/authorize?scope=a'))).toThrow(/mcp login notion/);
    expect(store.rows.size).toBe(0);
  });

  it('stores tokens with their expiry per account and URL, registers them with the redactor, and forgets them on invalidation', () => {
    const store = memoryStore();
    const records = new OAuthRecords(store, 'acct');
    const redactor = new Redactor();
    let now = 1_000_000;
    records.put('notion', { serverUrl });
    const p = new StoredOAuthProvider({ server: 'notion', serverUrl, records, redactor, clock: () => now });
    p.saveTokens({ access_token: 'access-value-123', refresh_token: 'refresh-value-456', token_type: 'Bearer', expires_in: 120, scope: 'read' });
    expect(records.get('notion')).toMatchObject({ expiresAt: 1_120_000, tokens: { scope: 'read' } });
    expect(redactor.redactString('access-value-123 refresh-value-456')).toBe('[REDACTED] [REDACTED]');
    expect(p.expiresSoon()).toBe(false);
    now += 70_000;
    expect(p.expiresSoon()).toBe(true);
    expect(new OAuthRecords(store, 'other').get('notion')).toBeUndefined();
    expect(records.get('notion', 'https://moved.example/mcp')).toBeUndefined();
    p.invalidateCredentials('tokens');
    expect(p.tokens()).toBeUndefined();
    expect(records.get('notion')).toEqual({ serverUrl });
  });

  it('presents a pre-registered client from the config entry and never overwrites it', () => {
    const records = new OAuthRecords(memoryStore(), 'acct');
    const p = new StoredOAuthProvider({ server: 's', serverUrl, records, settings: { clientId: 'pre', clientSecret: 'pre-secret' } });
    p.saveClientInformation({ client_id: 'dynamic' });
    expect(p.clientInformation()).toEqual({ client_id: 'pre', client_secret: 'pre-secret' });
    expect(p.clientMetadata.token_endpoint_auth_method).toBe('client_secret_basic');
  });
});
