import { describe, expect, it } from 'vitest';
import { egressFor, hostPatterns } from '../../lib/sandbox/shared/index.js';

describe('egressFor: a command never gets more than its task', () => {
  it('gives no network, any public host, or the listed hosts when the task has no allowlist', () => {
    expect(egressFor(undefined, undefined)).toEqual({ kind: 'none' });
    expect(egressFor(false, undefined)).toEqual({ kind: 'none' });
    expect(egressFor(true, undefined)).toEqual({ kind: 'public' });
    expect(egressFor(['PKG.example.org', '*.cdn.example.org', 'api.example.com:443'], undefined)).toEqual({
      kind: 'allowlist',
      allow: ['pkg.example.org', '*.cdn.example.org', 'api.example.com:443'],
    });
  });

  it('turns network: true into the task allowlist, and an empty one into a refusal', () => {
    expect(egressFor(true, { allow: ['pkg.example.org'] })).toEqual({ kind: 'allowlist', allow: ['pkg.example.org'] });
    expect(() => egressFor(true, { allow: [] })).toThrow(expect.objectContaining({ code: 'network_disabled' }));
  });

  it('keeps the hosts the task covers (narrowing ports), and refuses one it does not', () => {
    const task = { allow: ['*.example.org', 'api.example.com:443', '127.0.0.1'] };
    expect(egressFor(['a.example.org', '*.cdn.example.org', 'api.example.com', '127.0.0.1:8080'], task)).toEqual({
      kind: 'allowlist',
      allow: ['a.example.org', '*.cdn.example.org', 'api.example.com:443', '127.0.0.1:8080'],
    });
    for (const outside of ['example.org', 'evil.example.net', 'api.example.com:80', '*.other.net', '127.0.0.2']) {
      expect(() => egressFor([outside], task), outside).toThrow(expect.objectContaining({ code: 'network_disabled', message: expect.stringContaining(outside) }));
    }
  });

  it('refuses patterns that are too broad or not hosts', () => {
    for (const bad of ['*', '*.com', 'a b', 'http://x.org']) {
      expect(() => hostPatterns([bad]), bad).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});
