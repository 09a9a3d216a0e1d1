import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { describePresets, McpHub } from '../../lib/mcp/index.js';

// Live contract test: runs only with a real token (no network here otherwise).
describe.skipIf(!process.env.GITHUB_TOKEN)(process.env.GITHUB_TOKEN ? 'GitHub preset (live)' : 'GitHub preset (live) skipped: GITHUB_TOKEN is not set', () => {
  it('connects to GitHub\'s remote MCP server and lists its tools', async () => {
    const config = loadConfig(process.env);
    const github = describePresets(config).find((p) => p.name === 'github')!;
    const hub = new McpHub({ servers: { github: github.spec! }, env: process.env });
    try {
      const [status] = await hub.start();
      expect(status).toMatchObject({ state: 'connected' });
      expect(hub.tools().map((t) => t.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^mcp__github__/)]));
    } finally {
      await hub.close();
    }
  }, 60_000);
});
