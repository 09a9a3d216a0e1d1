import { describe, expect, it } from 'vitest';
import { isSupportedNode } from '../../lib/cli/node-version.js';

describe('supported Node versions (node:sqlite without a flag)', () => {
  it('accepts 22.13+, 23.4+ and 24+, and refuses what came before', () => {
    expect(['22.13.0', '22.20.1', '23.4.0', '24.0.0', '26.1.0'].map(isSupportedNode)).toEqual([true, true, true, true, true]);
    expect(['18.20.4', '20.20.2', '22.12.0', '23.3.0'].map(isSupportedNode)).toEqual([false, false, false, false]);
  });
});
