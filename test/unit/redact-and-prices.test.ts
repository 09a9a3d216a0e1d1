import { describe, expect, it } from 'vitest';
import { Redactor, REDACTED, redactorFromEnv } from '../../lib/secrets/index.js';
import { billedInputEquivalent, costOf, priceOf } from '../../lib/model/index.js';

describe('redaction', () => {
  it('removes configured secret values anywhere in a nested value', () => {
    const r = redactorFromEnv({ GITHUB_TOKEN: 'plain-looking-value-123' });
    const out = r.redact({ a: ['x plain-looking-value-123 y'], b: { c: 'plain-looking-value-123' }, n: 1 });
    expect(out).toEqual({ a: [`x ${REDACTED} y`], b: { c: REDACTED }, n: 1 });
  });

  it('removes token shapes it was never told about', () => {
    const r = new Redactor();
    const s = r.redactString(`key ${['sk', 'ant', 'api03', 'abcdefghijkl'].join('-')} and ${'ghp_'}abcdefghijklmnopqrstuvwxyz0123456789 and Authorization: Bearer abc.def.ghi.jkl.mno`);
    expect(s).not.toMatch(/sk-ant-api03|ghp_a|abc\.def/);
  });

  it('leaves short values and ordinary text alone', () => {
    const r = new Redactor(['abc']);
    expect(r.redactString('abc is fine')).toBe('abc is fine');
  });
});

describe('prices', () => {
  it('prices cache writes at 1.25x and reads at 0.1x input', () => {
    const p = priceOf('claude-sonnet-5-5');
    expect(costOf('claude-sonnet-5-5', { inputTokens: 1_000_000, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 })).toBe(p.input);
    expect(costOf('claude-sonnet-5-5', { inputTokens: 0, outputTokens: 0, cacheReadTokens: 1_000_000, cacheWriteTokens: 1_000_000 })).toBeCloseTo(p.input * 1.35);
    expect(billedInputEquivalent({ inputTokens: 100, cacheWriteTokens: 100, cacheReadTokens: 100 })).toBe(235);
  });

  it('normalises Bedrock ids', () => {
    expect(priceOf('global.anthropic.claude-haiku-4-5-v1:0')).toEqual(priceOf('claude-haiku-4-5'));
    expect(priceOf('claude-opus-4-1').input).toBeGreaterThan(priceOf('claude-opus-4-5').input);
  });
});
