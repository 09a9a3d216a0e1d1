/**
 * Model ids and the one price table (USD per million tokens). Cache writes (5-minute TTL) cost 1.25x input,
 * cache reads 0.1x input, as Anthropic bills them.
 */
import type { Usage } from '../task/index.js';

interface Price {
  input: number;
  output: number;
}

/** Keyed by family prefix; the longest matching prefix wins. */
const PRICES: Record<string, Price> = {
  'claude-opus-4-5': { input: 5, output: 25 },
  'claude-opus-4-6': { input: 5, output: 25 },
  'claude-opus-4-7': { input: 5, output: 25 },
  'claude-opus-4-8': { input: 5, output: 25 },
  'claude-opus-5': { input: 5, output: 25 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-haiku-5': { input: 1, output: 5 },
  'claude-haiku': { input: 0.8, output: 4 },
  'claude-fable': { input: 3, output: 15 },
  'claude-mythos': { input: 25, output: 125 },
};
const FALLBACK: Price = { input: 3, output: 15 };

/** Price of a model id; Bedrock ids (`anthropic.claude-...-v1:0`, `us.anthropic...`) are normalised first. */
export function priceOf(model: string): Price {
  const id = model.replace(/^(?:[a-z]+\.)?anthropic\./, '').replace(/-v\d+(?::\d+)?$/, '');
  let best: string | undefined;
  for (const k of Object.keys(PRICES)) if (id.startsWith(k) && (!best || k.length > best.length)) best = k;
  return best ? PRICES[best]! : FALLBACK;
}

/** Cost in USD of one call's tokens. */
export function costOf(model: string, u: Omit<Usage, 'costUsd'>): number {
  const p = priceOf(model);
  const usd =
    (u.inputTokens * p.input + u.cacheWriteTokens * p.input * 1.25 + u.cacheReadTokens * p.input * 0.1 + u.outputTokens * p.output) /
    1_000_000;
  return Math.round(usd * 1e6) / 1e6;
}

/** Input tokens as billed, in plain-input equivalents: input + 1.25 x cache writes + 0.1 x cache reads. */
export const billedInputEquivalent = (u: Pick<Usage, 'inputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>): number =>
  u.inputTokens + 1.25 * u.cacheWriteTokens + 0.1 * u.cacheReadTokens;
