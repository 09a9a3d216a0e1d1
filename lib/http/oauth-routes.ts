/**
 * OAuth login routes for remote MCP servers: `POST /mcp-connections/{id}/oauth/start` (behind the bearer
 * token like everything else) answers the authorization URL; `GET /oauth/callback` is public (the
 * authorization server's redirect carries no token) and trusts nothing but a pending, single-use `state`.
 */
import type { Hono } from 'hono';
import { DeepAgentError } from '../errors/index.js';
import type { McpOAuthBackend } from '../mcp/index.js';

/** The public callback path; the redirect URI is this path on the URL the start request came to. */
export const OAUTH_CALLBACK_PATH = '/oauth/callback';

/**
 * Mounts the public callback; call it before the authentication middleware.
 *
 * @example
 * mountOAuthCallback(app, deps.mcpOAuth);
 */
export function mountOAuthCallback(app: Hono<any>, backend: McpOAuthBackend | undefined): void {
  app.get(OAUTH_CALLBACK_PATH, async (c) => {
    if (!backend) throw new DeepAgentError('not_implemented', 'MCP OAuth logins are not available in this runtime');
    const q = c.req.query();
    const done = await backend.complete({ state: q.state, code: q.code, error: q.error, error_description: q.error_description });
    return c.json({ server: done.server, status: 'connected', ...(done.scopes ? { scopes: done.scopes } : {}) });
  });
}

/**
 * Mounts `POST /mcp-connections/:id/oauth/start` and `DELETE /mcp-connections/:id/oauth` (logout); call it after the authentication middleware.
 *
 * @example
 * mountOAuthStart(app, deps.mcpOAuth, deps.publicUrl);
 */
export function mountOAuthStart(app: Hono<{ Variables: { accountId: string } }>, backend: McpOAuthBackend | undefined, publicUrl?: string): void {
  app.post('/mcp-connections/:id/oauth/start', async (c) => {
    if (!backend) throw new DeepAgentError('not_implemented', 'MCP OAuth logins are not available in this runtime');
    const callbackUrl = new URL(OAUTH_CALLBACK_PATH.slice(1), `${(publicUrl ?? new URL(c.req.url).origin).replace(/\/$/, '')}/`).toString();
    return c.json(await backend.start(c.var.accountId, c.req.param('id'), callbackUrl));
  });
  app.delete('/mcp-connections/:id/oauth', async (c) => {
    if (!backend) throw new DeepAgentError('not_implemented', 'MCP OAuth logins are not available in this runtime');
    return c.json({ server: c.req.param('id'), loggedOut: await backend.logout(c.var.accountId, c.req.param('id')) });
  });
}
