import { describe, expect, it } from 'vitest';
import { allotOperations, CountedJournal, maxStepsWithin, OPERATIONS } from '../../lib/agent/budgets.js';
import { isSuspension, MemoryJournal, RunSuspended } from '../../lib/agent/index.js';
import { DeepAgentError, isRetryable } from '../../lib/errors/index.js';

describe('retryable is a property of the error', () => {
  it('defaults by code, can be set by the thrower, and survives toObject / fromObject', () => {
    // prepare
    const budget = new DeepAgentError('budget_exceeded', 'spent');
    const upstream = new DeepAgentError('model_error', 'overloaded');
    const gone = DeepAgentError.nonRetryable('tool_error', 'the repository was deleted');
    // act
    const roundTrip = [budget, upstream, gone].map((e) => DeepAgentError.fromObject(JSON.parse(JSON.stringify(e.toObject()))));
    // assess
    expect([budget, upstream, gone].map(isRetryable)).toEqual([false, true, false]);
    expect(roundTrip.map(isRetryable)).toEqual([false, true, false]);
    expect(roundTrip[2]).toMatchObject({ code: 'tool_error', retryable: false });
    expect(isRetryable(new Error('ECONNRESET'))).toBe(true);
    expect(isRetryable({ code: 'invalid_input', message: 'from an old checkpoint' })).toBe(false);
  });

  it('a journal suspension is recognised by the journal contract, also once serialised', () => {
    const parked = new RunSuspended('parked until ap-1 is decided', { approvalId: 'ap-1' });
    expect(isSuspension(parked)).toBe(true);
    expect(isSuspension(DeepAgentError.fromObject(parked.toObject()))).toBe(true);
    expect(isRetryable(parked)).toBe(false);
    expect(isSuspension(new DeepAgentError('cancelled', 'no'))).toBe(false);
  });
});

describe('the operation budget', () => {
  it('takes the calls of a turn in order while their cheapest cost fits, and shares the rest among sub-agents', () => {
    expect(allotOperations(['tool', 'tool', 'tool'], 5, 32)).toMatchObject({ run: 2 });
    expect(allotOperations(['tool', 'tool', 'tool'], 100, 2)).toMatchObject({ run: 2 });
    const { run, subagentLimit } = allotOperations(['subagent', 'tool', 'subagent'], 2 * OPERATIONS.subagent + OPERATIONS.tool + 10, 32);
    expect(run).toBe(3);
    expect(subagentLimit).toBe(OPERATIONS.subagent - OPERATIONS.child + 5);
    expect(allotOperations(['approval'], OPERATIONS.tool + OPERATIONS.approval - 1, 32).run).toBe(0);
  });

  it('bounds maxSteps by the quota at the cheapest turn', () => {
    expect(maxStepsWithin(3_000)).toBe(999);
    expect(maxStepsWithin(2)).toBe(0);
  });

  it('counts a child with the operations it used, and returns its error with its code', async () => {
    // prepare
    const journal = new CountedJournal(new MemoryJournal(), { limit: 100, lastAt: 0, clock: () => 42, work: new AbortController().signal });
    // act
    await journal.child('call:a', 5, async (child) => {
      await child.step('tool:a', async () => 1);
      await child.step('tool:b', async () => 2);
    });
    const failed = await journal.child('call:c', 5, async () => Promise.reject(new DeepAgentError('budget_exceeded', 'late'))).catch((e: unknown) => e);
    // assess
    expect(journal.used).toBe(4);
    expect(journal.lastAt).toBe(42);
    expect(failed).toMatchObject({ code: 'budget_exceeded', message: 'late' });
  });
});
