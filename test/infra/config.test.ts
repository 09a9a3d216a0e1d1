/** Stack settings: defaults, validation at synth, and reading them from CDK context. */
import { describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { DeepAgentStack, configFromContext, resolveStackConfig } from '../../lib/infra/index.js';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect((e as { code?: string }).code).toBe('invalid_input');
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

describe('resolveStackConfig', () => {
  it('applies the documented defaults', () => {
    const c = resolveStackConfig();
    expect(c).toMatchObject({
      sandbox: 'e2b',
      executionTimeoutMinutes: 1440,
      executionRetentionDays: 14,
      logRetentionDays: 30,
      transcriptExpirationDays: 30,
      taskExpirationDays: 0,
      maxReceiveCount: 3,
      maxConcurrentTasks: 20,
      modelProvider: 'anthropic',
      sandboxSweepMinutes: 15,
      schedules: [],
    });
    expect(c.model).toMatch(/^claude-/);
  });

  it.each([
    [{ maxReceiveCount: 2 }, 'maxReceiveCount'],
    [{ logRetentionDays: 31 }, 'logRetentionDays'],
    [{ executionTimeoutMinutes: 0 }, 'executionTimeoutMinutes'],
    [{ alarmEmail: 'not-an-email' }, 'alarmEmail'],
    [{ maxConcurrentTasks: 0 }, 'maxConcurrentTasks'],
    [{ modelProvider: 'openai' }, 'modelProvider'],
    [{ schedules: [{ name: 'bad name', expression: 'rate(1 day)', prompt: 'x' }] }, 'schedules.0.name'],
    [{ schedules: [{ name: 'a', expression: 'every day', prompt: 'x' }] }, 'schedules.0.expression'],
    [{ schedules: [{ name: 'a', expression: 'rate(1 day)', prompt: 'x' }, { name: 'a', expression: 'rate(2 days)', prompt: 'y' }] }, 'schedules.1.name'],
    [{ unknownSetting: true }, 'config'],
  ])('rejects %j naming %s in one line', (input, where) => {
    const message = messageOf(() => resolveStackConfig(input as never));
    expect(message).toContain(`setting ${where} is invalid`);
    expect(message).not.toContain('\n');
  });

  it('stops the stack before any bundling when a setting is bad', () => {
    const app = new App();
    const message = messageOf(() => new DeepAgentStack(app, 'Bad', { config: { maxReceiveCount: 1 } }));
    expect(message).toContain('maxReceiveCount');
  });
});

describe('configFromContext', () => {
  it('reads deep-agent:* keys, parsing -c strings into numbers and schedules JSON', () => {
    const context: Record<string, unknown> = {
      'deep-agent:maxReceiveCount': '5',
      'deep-agent:model': 'claude-opus-4-5',
      'deep-agent:schedules': JSON.stringify([{ name: 'nightly', expression: 'cron(0 2 * * ? *)', prompt: 'Update deps' }]),
      'deep-agent:alarmEmail': '',
    };
    const config = resolveStackConfig(configFromContext((k) => context[k]));
    expect(config.maxReceiveCount).toBe(5);
    expect(config.model).toBe('claude-opus-4-5');
    expect(config.schedules[0]?.name).toBe('nightly');
    expect(config.alarmEmail).toBeUndefined();
  });

  it('rejects schedules context that is not JSON', () => {
    expect(messageOf(() => configFromContext((k) => (k === 'deep-agent:schedules' ? '[oops' : undefined)))).toContain('not JSON');
  });
});
