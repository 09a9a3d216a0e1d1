/** E2B's MCP gateway helper, on the test double of E2B's control plane. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimitError } from 'e2b';
import { loadConfig } from '../../lib/config/index.js';
import { connectE2BMcpGateway, createE2BMcpGateway, gatewayServersFromConfig } from '../../lib/sandbox/e2b/index.js';
import { FakeE2B } from '../helpers/fake-e2b.js';

const ENV = { E2B_API_KEY: 'e2b_test0123456789abcdef0123', GITHUB_TOKEN: 'ghp_testtoken0123456789abcdefghij', NOTION_TOKEN: 'ntn_testtoken0123456789abcdefghij' };
let fake: FakeE2B;
beforeEach(async () => {
  fake = await FakeE2B.start();
});
afterEach(() => fake.cleanup());

describe('E2B MCP gateway', () => {
  it('creates a gateway sandbox with the GitHub and Notion servers and returns its URL and bearer token', async () => {
    // act
    const gateway = await createE2BMcpGateway(loadConfig(ENV), { sdk: fake, taskId: 'task-1' });

    // assess
    const created = fake.callsOf('create')[0]!.args as Record<string, unknown>;
    expect(created).toEqual({
      mcp: { githubOfficial: { githubPersonalAccessToken: ENV.GITHUB_TOKEN }, notion: { internalIntegrationToken: ENV.NOTION_TOKEN } },
      timeoutMs: 600_000,
      metadata: { purpose: 'mcp-gateway', taskId: 'task-1' },
      allowInternetAccess: true,
      apiKeyGiven: true,
    });
    expect(fake.only().template).toBe('mcp-gateway');
    expect(gateway).toMatchObject({
      sandboxId: fake.only().id,
      url: `https://50005-${fake.only().id}.e2b.app/mcp`,
      headers: { Authorization: `Bearer ${fake.only().mcpToken}` },
      servers: ['githubOfficial', 'notion'],
    });

    await gateway.close();
    await gateway.close();
    expect(fake.only().state).toBe('killed');
    expect(fake.callsOf('kill')).toHaveLength(1);
  });

  it('keeps the gateway alive like the task sandbox, and stops once paused or closed', async () => {
    // prepare
    const gateway = await createE2BMcpGateway(loadConfig(ENV), { sdk: fake, taskId: 'task-1' });
    // act
    await gateway.keepAlive.tick();
    const running = gateway.keepAlive.running;
    await gateway.pause();
    // assess
    expect(running).toBe(true);
    expect(fake.callsOf('setTimeout')).toEqual([expect.objectContaining({ sandboxId: gateway.sandboxId, args: { timeoutMs: 600_000 } })]);
    expect(gateway.keepAlive.running).toBe(false);
    expect(fake.only().state).toBe('paused');
    await gateway.close();
    expect(fake.only().state).toBe('killed');
  });

  it('attaches only the servers whose tokens are set', () => {
    expect(gatewayServersFromConfig(loadConfig({ NOTION_TOKEN: ENV.NOTION_TOKEN }))).toEqual({ notion: { internalIntegrationToken: ENV.NOTION_TOKEN } });
  });

  it('refuses to start without any server token, naming what is missing', async () => {
    const e = await createE2BMcpGateway(loadConfig({ E2B_API_KEY: ENV.E2B_API_KEY }), { sdk: fake }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'missing_config', message: expect.stringContaining('GITHUB_TOKEN or NOTION_TOKEN') });
    expect(fake.callsOf('create')).toHaveLength(0);
  });

  it('refuses to start without E2B_API_KEY', async () => {
    const e = await createE2BMcpGateway(loadConfig({ GITHUB_TOKEN: ENV.GITHUB_TOKEN }), { sdk: fake }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'missing_config', message: expect.stringContaining('E2B_API_KEY') });
  });

  it('backs off on rate limits when creating the gateway', async () => {
    fake.failNext('create', new RateLimitError('429'));
    const gateway = await createE2BMcpGateway(loadConfig(ENV), { sdk: fake, backoff: { sleep: async () => {} } });
    expect(fake.callsOf('create')).toHaveLength(2);
    await gateway.close();
  });

  it('reconnects to the same gateway after a replay, with the same token', async () => {
    const first = await createE2BMcpGateway(loadConfig(ENV), { sdk: fake });

    const again = await connectE2BMcpGateway(loadConfig(ENV), first.sandboxId, { sdk: fake });

    expect(fake.callsOf('create')).toHaveLength(1);
    expect(again).toMatchObject({ url: first.url, headers: first.headers });
    await again.close();
  });

  it('says the gateway is gone when it expired', async () => {
    const first = await createE2BMcpGateway(loadConfig(ENV), { sdk: fake });
    fake.expire(first.sandboxId);
    await expect(connectE2BMcpGateway(loadConfig(ENV), first.sandboxId, { sdk: fake })).rejects.toMatchObject({
      code: 'sandbox_error',
      message: expect.stringContaining('no longer exists (expired?)'),
    });
  });
});
