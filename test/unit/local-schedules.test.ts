import { describe, expect, it } from 'vitest';
import { latestSlot, parseRate, parseScheduleInput, type Schedule } from '../../lib/local/index.js';

const invalid = (input: unknown) => {
  try {
    parseScheduleInput(input);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected invalid_input');
};

const schedule = (over: Partial<Schedule>): Schedule => ({
  id: 's1',
  prompt: 'p',
  timezone: 'UTC',
  enabled: true,
  createdAt: '2026-03-27T12:00:00.000Z',
  ...over,
});

describe('schedule validation', () => {
  it('accepts a cron with an IANA time zone, and a rate', () => {
    expect(parseScheduleInput({ cron: '0 9 * * 1-5', timezone: 'Europe/Paris', prompt: 'triage' })).toMatchObject({ cron: '0 9 * * 1-5' });
    expect(parseScheduleInput({ rate: 'rate(1 hour)', prompt: 'check' })).toMatchObject({ rate: 'rate(1 hour)' });
  });

  it.each([
    [{ cron: '61 * * * *', prompt: 'p' }, /cron/],
    [{ cron: '0 0 9 * * *', prompt: 'p' }, /cron/],
    [{ cron: '0 9 * * *', timezone: 'Mars/Olympus', prompt: 'p' }, /timezone/],
    [{ cron: '0 9 * * *', rate: 'rate(1 hour)', prompt: 'p' }, /exactly one of cron or rate/],
    [{ prompt: 'p' }, /exactly one of cron or rate/],
    [{ rate: 'rate(1 minutes)', prompt: 'p' }, /rate/],
    [{ rate: 'rate(0 minutes)', prompt: 'p' }, /rate/],
    [{ rate: 'every hour', prompt: 'p' }, /rate/],
    [{ rate: 'rate(5 minutes)', prompt: '  ' }, /prompt/],
    [{ rate: 'rate(5 minutes)', prompt: 'p', extra: 1 }, /extra|unrecognized/i],
  ])('refuses %j with one line of invalid_input', (input, pattern) => {
    const e = invalid(input);
    expect(e.code).toBe('invalid_input');
    expect(e.message).toMatch(pattern);
    expect(e.message).not.toContain('\n');
  });

  it('reads rates like EventBridge', () => {
    expect(parseRate('rate(1 minute)')).toBe(60_000);
    expect(parseRate('rate(5 minutes)')).toBe(300_000);
    expect(parseRate('rate(2 days)')).toBe(172_800_000);
  });
});

describe('latestSlot', () => {
  it('reads cron in the schedule time zone, across the spring DST change', () => {
    const s = schedule({ cron: '0 9 * * *', timezone: 'Europe/Paris' });
    const after = Date.parse(s.createdAt);
    // 9:00 in Paris is 08:00Z in winter (CET) and 07:00Z from 29 March 2026 (CEST).
    expect(latestSlot(s, after, Date.parse('2026-03-28T08:00:00Z'))).toBe(Date.parse('2026-03-28T08:00:00Z'));
    expect(latestSlot(s, after, Date.parse('2026-03-29T06:59:59Z'))).toBe(Date.parse('2026-03-28T08:00:00Z'));
    expect(latestSlot(s, after, Date.parse('2026-03-29T07:00:00Z'))).toBe(Date.parse('2026-03-29T07:00:00Z'));
    expect(latestSlot(s, Date.parse('2026-03-29T07:00:00Z'), Date.parse('2026-03-29T08:00:00Z'))).toBeUndefined();
  });

  it('counts rate slots from creation', () => {
    const s = schedule({ rate: 'rate(5 minutes)' });
    const created = Date.parse(s.createdAt);
    expect(latestSlot(s, created, created + 299_999)).toBeUndefined();
    expect(latestSlot(s, created, created + 300_000)).toBe(created + 300_000);
    expect(latestSlot(s, created + 300_000, created + 720_000)).toBe(created + 600_000);
  });
});
