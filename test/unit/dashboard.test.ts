import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createHttpApp } from '../../lib/http/index.js';
import { renderAssetsModule } from '../../lib/http/dashboard/embed.js';
import { MemoryTaskStore, TaskService } from '../../lib/task/index.js';

const app = createHttpApp({ service: new TaskService({ store: new MemoryTaskStore(), queue: { send: () => {} } }), authenticate: () => undefined });

describe('the web dashboard', () => {
  it('serves index.html at / without a token, with a strict Content-Security-Policy', async () => {
    // act
    const res = await app.request('/');
    const html = await res.text();
    // assess
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(html).toContain('<script type="module" src="/dashboard/app.js"></script>');
    // No inline script or style anywhere: every <script> has a src.
    expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/g)).toBeNull();
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  it('serves app.js and app.css with their types, and the API still needs the token', async () => {
    const js = await app.request('/dashboard/app.js');
    const css = await app.request('/dashboard/app.css');
    const api = await app.request('/tasks');
    const unknown = await app.request('/dashboard/secrets.txt');
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect([css.status, css.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect(api.status).toBe(401);
    expect(unknown.status).toBe(401);
  });

  it('keeps the token out of URLs and never builds HTML from strings', () => {
    const js = readFileSync(new URL('../../lib/http/dashboard/app.js', import.meta.url), 'utf8');
    expect(js).toContain('sessionStorage');
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|new EventSource|eval\(/);
    expect(js).not.toMatch(/[?&]token=/);
  });

  it('ships assets.ts generated from the current source files (npm run dashboard:embed)', () => {
    const embedded = readFileSync(new URL('../../lib/http/dashboard/assets.ts', import.meta.url), 'utf8');
    expect(embedded).toBe(renderAssetsModule());
  });
});
