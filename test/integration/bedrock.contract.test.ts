/**
 * Contract test of the Bedrock provider against the real AWS service. It runs only when AWS credentials are
 * present (nothing here can stand in for Bedrock), and reports itself skipped otherwise.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../lib/config/index.js';
import { createModelClient } from '../../lib/model/index.js';

const hasAws = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE || process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
const reason = hasAws ? 'Bedrock contract' : 'Bedrock contract skipped: no AWS credentials (AWS_ACCESS_KEY_ID or AWS_PROFILE) in the environment';

describe.skipIf(!hasAws)(reason, () => {
  it('answers through the same interface, with usage and cost', async () => {
    const config = loadConfig({ ...process.env, DEEP_AGENT_MODEL_PROVIDER: 'bedrock' });
    const model = await createModelClient(config);
    expect(model.provider).toBe('bedrock');
    const res = await model.createMessage({ system: 'Answer with one word.', messages: [{ role: 'user', content: 'Say ok.' }], tools: [], maxTokens: 16 });
    expect(res.content.some((b) => b.type === 'text')).toBe(true);
    expect(res.usage.inputTokens).toBeGreaterThan(0);
    expect(res.usage.costUsd).toBeGreaterThan(0);
  });
});

describe('Bedrock provider wiring (offline)', () => {
  it('prefixes plain model ids for Bedrock and keeps explicit Bedrock ids', async () => {
    const plain = await createModelClient(loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'bedrock', AWS_REGION: 'us-east-1' }));
    expect(plain.model).toBe('global.anthropic.claude-sonnet-5-5');
    const explicit = await createModelClient(loadConfig({ DEEP_AGENT_MODEL_PROVIDER: 'bedrock', AWS_REGION: 'us-east-1', DEEP_AGENT_MODEL: 'us.anthropic.claude-haiku-4-5-v1:0' }));
    expect(explicit.model).toBe('us.anthropic.claude-haiku-4-5-v1:0');
  });
});
