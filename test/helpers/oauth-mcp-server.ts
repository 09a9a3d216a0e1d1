/**
 * A small OAuth-protected MCP server for tests: one origin that is both the protected resource (streamable
 * HTTP at /mcp, tool `echo`) and its authorization server (RFC 9728 + RFC 8414 metadata, dynamic
 * registration, an auto-approving /authorize, PKCE S256, authorization_code and refresh_token grants).
 * Tests can expire access tokens and revoke refresh tokens mid-task. Token values are random, so a test can
 * grep for them (canaries).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

export interface OAuthMcpServer {
  url: string;
  /** The MCP endpoint (`<url>/mcp`). */
  mcpUrl: string;
  /** Every grant_type the token endpoint was asked for, in order. */
  grants: string[];
  /** Every access and refresh token issued. */
  issued: string[];
  /** 401 answers the MCP endpoint gave. */
  unauthorized: number;
  /** Tool calls that got through, with the token scope. */
  calls: { tool: string; args: unknown }[];
  expireAccessTokens(): void;
  revokeRefreshTokens(): void;
  close(): Promise<void>;
}

export interface OAuthMcpServerOptions {
  /** `expires_in` of issued access tokens. @default 3600 */
  expiresInSeconds?: number;
  /** Scopes the resource metadata lists. @default ['mcp:tools'] */
  scopes?: string[];
}

const token = (kind: string) => `${kind}-${randomBytes(18).toString('base64url')}`;

/**
 * @example
 * const remote = await startOAuthMcpServer();
 * writeFileSync('.mcp.json', JSON.stringify({ mcpServers: { remote: { url: remote.mcpUrl } } }));
 */
export async function startOAuthMcpServer(options: OAuthMcpServerOptions = {}): Promise<OAuthMcpServer> {
  const scopes = options.scopes ?? ['mcp:tools'];
  const codes = new Map<string, { challenge: string; redirectUri: string; scope: string }>();
  const access = new Map<string, { expiresAt: number }>();
  const refresh = new Map<string, { scope: string }>();
  const state: Omit<OAuthMcpServer, 'url' | 'mcpUrl' | 'expireAccessTokens' | 'revokeRefreshTokens' | 'close'> = { grants: [], issued: [], unauthorized: 0, calls: [] };
  let base = '';

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

  const issue = (scope: string) => {
    const a = token('atk');
    const r = token('rtk');
    access.set(a, { expiresAt: Date.now() + (options.expiresInSeconds ?? 3600) * 1000 });
    refresh.set(r, { scope });
    state.issued.push(a, r);
    return { access_token: a, token_type: 'Bearer', expires_in: options.expiresInSeconds ?? 3600, refresh_token: r, scope };
  };

  const mcp = () => {
    const server = new McpServer({ name: 'oauth-test-server', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes the text', inputSchema: { text: z.string() } }, async (args) => {
      state.calls.push({ tool: 'echo', args });
      return { content: [{ type: 'text', text: `echo: ${args.text}` }] };
    });
    return server;
  };

  const http = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (url.pathname === '/.well-known/oauth-protected-resource/mcp' || url.pathname === '/.well-known/oauth-protected-resource') {
      return json(res, 200, { resource: `${base}/mcp`, authorization_servers: [base], scopes_supported: scopes });
    }
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        registration_endpoint: `${base}/register`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (url.pathname === '/register' && req.method === 'POST') {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      return json(res, 201, { ...body, client_id: `client-${randomBytes(6).toString('hex')}`, token_endpoint_auth_method: 'none' });
    }
    if (url.pathname === '/authorize') {
      const code = token('code');
      codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', redirectUri: url.searchParams.get('redirect_uri') ?? '', scope: url.searchParams.get('scope') ?? '' });
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      if (url.searchParams.get('state')) back.searchParams.set('state', url.searchParams.get('state')!);
      return res.writeHead(302, { location: back.toString() }).end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(raw);
      const grant = form.get('grant_type') ?? '';
      state.grants.push(grant);
      if (grant === 'authorization_code') {
        const entry = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (!entry || entry.challenge !== challenge || entry.redirectUri !== form.get('redirect_uri')) return json(res, 400, { error: 'invalid_grant' });
        return json(res, 200, issue(entry.scope));
      }
      if (grant === 'refresh_token') {
        const entry = refresh.get(form.get('refresh_token') ?? '');
        if (!entry) return json(res, 400, { error: 'invalid_grant', error_description: 'refresh token revoked' });
        refresh.delete(form.get('refresh_token')!);
        return json(res, 200, issue(entry.scope));
      }
      return json(res, 400, { error: 'unsupported_grant_type' });
    }
    if (url.pathname === '/mcp') {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const entry = bearer ? access.get(bearer) : undefined;
      if (!entry || entry.expiresAt <= Date.now()) {
        state.unauthorized++;
        return json(res, 401, { error: 'invalid_token' }, { 'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"` });
      }
      if (req.method !== 'POST') return res.writeHead(405).end();
      const server = mcp();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, JSON.parse(raw));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url: base,
    mcpUrl: `${base}/mcp`,
    expireAccessTokens: () => {
      for (const v of access.values()) v.expiresAt = 0;
    },
    revokeRefreshTokens: () => refresh.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  });
}
