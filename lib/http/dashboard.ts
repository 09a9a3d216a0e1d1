/**
 * The web dashboard's routes: `GET /` (index.html) and `GET /dashboard/<file>`, served from the strings in
 * dashboard/assets.ts with a strict Content-Security-Policy (scripts and styles from this origin only, no
 * inline script, no framing), so a task's text shown in the page can never run as code.
 */
import type { Hono } from 'hono';
import { DASHBOARD_ASSETS } from './dashboard/assets.js';

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

function asset(name: string): Response | undefined {
  const body = DASHBOARD_ASSETS[name];
  if (body === undefined) return undefined;
  return new Response(body, {
    headers: {
      'content-type': TYPES[name.split('.').pop()!] ?? 'application/octet-stream',
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      // Small files that change with each release: always revalidate.
      'cache-control': 'no-cache',
    },
  });
}

/**
 * Adds the dashboard routes; call before the authentication middleware.
 *
 * @example
 * serveDashboard(app);
 */
export function serveDashboard(app: Hono<any>): void {
  app.get('/', () => asset('index.html')!);
  // Browsers ask for it on their own, without the token.
  app.get('/favicon.ico', () => asset('favicon.svg')!);
  app.get('/dashboard/:file', (c, next) => asset(c.req.param('file')) ?? next());
}
