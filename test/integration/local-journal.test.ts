import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { ApprovalRequest } from '../../lib/agent/journal.js';
import { isSuspension, runTask } from '../../lib/agent/index.js';
import type { ContentBlock, ModelClient, ModelRequest } from '../../lib/model/types.js';
import { emptyUsage } from '../../lib/task/index.js';
import { defineTool } from '../../lib/tools/index.js';
import { memoryStore, noSandbox, queuedTask } from '../helpers/factories.js';
import { hasCode } from '../../lib/errors/index.js';
import { ApprovalStore, openDatabase, SqliteJournal, SUSPENDED } from '../../lib/local/index.js';
import { Redactor } from '../../lib/secrets/index.js';

let home: string;
let db: DatabaseSync;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'local-journal-'));
  db = openDatabase(home);
});
afterEach(() => {
  db.close();
  rmSync(home, { recursive: true, force: true });
});

const request = (approvalId: string): ApprovalRequest => ({
  approvalId,
  taskId: 't1',
  tool: 'run_command',
  input: { command: 'rm -rf build' },
  reason: 'deletes files',
});

describe('SqliteJournal', () => {
  it('replays finished steps on a second instance (a resumed worker) without running them again', async () => {
    // prepare: the first worker finishes two steps and crashes in the third
    const first = new SqliteJournal(db, 't1');
    await first.step('model:1', async () => ({ text: 'plan', usage: { inputTokens: 3 } }));
    await first.step('tool:1:a', async () => undefined);
    await expect(first.step('model:2', async () => Promise.reject(new Error('crash')))).rejects.toThrow('crash');
    const other = openDatabase(home);
    const resumed = new SqliteJournal(other, 't1');
    // act
    const model1 = await resumed.step('model:1', async () => ({ text: 'different' }));
    const tool1 = await resumed.step('tool:1:a', async () => 'ran again');
    const model2 = await resumed.step('model:2', async () => ({ text: 'second turn' }));
    other.close();
    // assess
    expect(first.executed).toEqual(['model:1', 'tool:1:a']);
    expect(resumed.executed).toEqual(['model:2']);
    expect(model1).toEqual({ text: 'plan', usage: { inputTokens: 3 } });
    expect(tool1).toBeUndefined();
    expect(model2).toEqual({ text: 'second turn' });
  });

  it('keeps the steps of different tasks apart', async () => {
    await new SqliteJournal(db, 't1').step('model:1', async () => 1);
    const t2 = new SqliteJournal(db, 't2');
    expect(await t2.step('model:1', async () => 2)).toBe(2);
    expect(t2.executed).toEqual(['model:1']);
  });

  it('redacts secrets in stored step results', async () => {
    const journal = new SqliteJournal(db, 't1', { redactor: new Redactor(['topsecret-value-123']) });
    const live = await journal.step('tool:1', async () => ({ out: 'topsecret-value-123' }));
    const replay = await new SqliteJournal(db, 't1').step('tool:1', async () => ({ out: 'x' }));
    expect(live).toEqual({ out: 'topsecret-value-123' });
    expect(replay).toEqual({ out: '[REDACTED]' });
  });

  it('waits for an approval resolved from a second connection, then replays the decision at once', async () => {
    // prepare
    const journal = new SqliteJournal(db, 't1', { pollIntervalMs: 10 });
    const api = openDatabase(home);
    const approvals = new ApprovalStore(api);
    // act
    const waiting = journal.waitForApproval('approval:tool:3', request('ap-1'));
    await new Promise((r) => setTimeout(r, 30));
    const pending = approvals.getApproval('ap-1');
    const listed = approvals.listApprovals('t1');
    approvals.resolveApproval('ap-1', { approve: false, reason: 'not today' });
    const decision = await waiting;
    const resumed = new SqliteJournal(api, 't1', { pollIntervalMs: 10_000 });
    const replayed = await resumed.waitForApproval('approval:tool:3', request('ap-new-id'));
    api.close();
    // assess
    expect(pending).toMatchObject({ approvalId: 'ap-1', taskId: 't1', tool: 'run_command', input: { command: 'rm -rf build' }, reason: 'deletes files', status: 'pending' });
    expect(listed.map((a) => a.approvalId)).toEqual(['ap-1']);
    expect(decision).toEqual({ approve: false, reason: 'not today' });
    expect(replayed).toEqual({ approve: false, reason: 'not today' });
    expect(journal.getApproval('ap-1')).toMatchObject({ status: 'denied', decisionReason: 'not today' });
    expect(journal.listApprovals('t1')).toHaveLength(1);
  });

  it('rejects a conflicting second decision and an unknown approval id', async () => {
    const journal = new SqliteJournal(db, 't1', { pollIntervalMs: 5 });
    const approvals = new ApprovalStore(db);
    const waiting = journal.waitForApproval('approval:1', request('ap-2'));
    expect(approvals.resolveApproval('ap-2', { approve: true }).status).toBe('approved');
    expect(await waiting).toEqual({ approve: true });
    expect(approvals.resolveApproval('ap-2', { approve: true }).status).toBe('approved');
    expect(() => approvals.resolveApproval('ap-2', { approve: false })).toThrow(expect.objectContaining({ code: 'conflict' }));
    expect(() => approvals.resolveApproval('nope', { approve: true })).toThrow(expect.objectContaining({ code: 'not_found' }));
  });

  it('stops waiting with code cancelled when the signal aborts', async () => {
    const controller = new AbortController();
    const journal = new SqliteJournal(db, 't1', { pollIntervalMs: 1_000, signal: controller.signal });
    const waiting = journal.waitForApproval('approval:1', request('ap-3'));
    setTimeout(() => controller.abort(), 20);
    const started = Date.now();
    await expect(waiting).rejects.toSatisfy((e) => hasCode(e, 'cancelled'));
    expect(Date.now() - started).toBeLessThan(900);
    expect(journal.getApproval('ap-3')!.status).toBe('pending');
  });

  it('parks instead of waiting through its suspending view: suspended while pending, the stored decision once resolved', async () => {
    // prepare
    const journal = new SqliteJournal(db, 't1').suspending();
    // act: ask twice (the second is a replay of the parked run), resolve from another connection, ask again
    const first = await journal.waitForApproval!('approval:1', request('ap-4')).catch((e: unknown) => e);
    const replay = await journal.waitForApproval!('approval:1', request('ap-4-renamed')).catch((e: unknown) => e);
    new ApprovalStore(openDatabase(home)).resolveApproval('ap-4', { approve: false, reason: 'no' });
    const decision = await new SqliteJournal(db, 't1').suspending().waitForApproval!('approval:1', request('ap-4'));
    // assess
    expect(first).toMatchObject({ code: SUSPENDED, data: { approvalId: 'ap-4' } });
    expect(replay).toMatchObject({ code: SUSPENDED, data: { approvalId: 'ap-4' } });
    expect(new ApprovalStore(db).listApprovals('t1').map((a) => a.approvalId)).toEqual(['ap-4']);
    expect(decision).toEqual({ approve: false, reason: 'no' });
  });
});

/** Main: two sub-agents side by side, then a call that needs approval. Sub-agents sleep `ms[prompt]`. */
function parallelTurnModel(): ModelClient {
  return {
    provider: 'anthropic',
    model: 'scripted',
    async createMessage(request: ModelRequest) {
      const prompt = String(request.messages[0]!.content);
      const turn = request.messages.filter((m) => m.role === 'assistant').length + 1;
      const use = (id: string, name: string, input: unknown) => ({ type: 'tool_use', id, name, input }) as ContentBlock;
      let content: ContentBlock[] = [{ type: 'text', text: `done ${prompt}` } as ContentBlock];
      if (prompt === 'main' && turn === 1) content = [use('s1', 'task', { prompt: 'A' }), use('s2', 'task', { prompt: 'B' })];
      if (prompt === 'main' && turn === 2) content = [use('g1', 'guarded', {})];
      if (prompt !== 'main' && turn === 1) content = [use(`n${prompt}`, 'nap', { who: prompt })];
      return { content, stopReason: 'end_turn', usage: emptyUsage(), model: 'scripted' };
    },
  };
}

describe('SqliteJournal under the agent loop', () => {
  it('names the steps of a concurrent turn the same whatever finishes first, and a resumed run re-runs none of them', async () => {
    // prepare: the same task twice, with the sub-agents' latencies swapped
    const namesFor = async (ms: Record<string, number>) => {
      const store = memoryStore();
      const taskId = await queuedTask(store, 'main');
      const napped: string[] = [];
      const tools = [
        defineTool({ name: 'nap', description: 'naps', input: z.object({ who: z.string() }), run: async ({ who }) => (await new Promise((r) => setTimeout(r, ms[who])), napped.push(who), 'rested') }),
        defineTool({ name: 'guarded', description: 'needs a person', input: z.object({}), run: async () => 'ran' }),
      ];
      const options = { taskId, store, model: parallelTurnModel(), sandboxProvider: noSandbox, tools, approvalPolicy: (t: { name: string }) => (t.name === 'guarded' ? 'ask' : undefined), rethrowTransient: true };
      const first = new SqliteJournal(db, taskId);
      // act: the first run parks on the approval; a person approves; a second worker resumes
      const parked = await runTask({ ...options, journal: first.suspending() }).catch((e: unknown) => e);
      if (!isSuspension(parked)) return { parked, record: undefined as never, napped, first: first.executed, resumed: [] as string[] };
      first.resolveApproval(first.listApprovals(taskId)[0]!.approvalId, { approve: true });
      const resumed = new SqliteJournal(db, taskId);
      const record = await runTask({ ...options, journal: resumed.suspending() });
      return { parked, record, napped, first: first.executed, resumed: resumed.executed };
    };
    const aSlow = await namesFor({ A: 40, B: 1 });
    const bSlow = await namesFor({ A: 1, B: 40 });
    // assess
    expect(aSlow.parked).toMatchObject({ code: "suspended" });
    expect(aSlow.record.status).toBe('succeeded');
    expect(aSlow.napped).toEqual(['B', 'A']);
    expect(bSlow.napped).toEqual(['A', 'B']);
    expect([...aSlow.first].sort()).toEqual([...bSlow.first].sort());
    expect(aSlow.first).toEqual(expect.arrayContaining(['sub:s1:model:1', 'sub:s1:tool:nA', 'sub:s2:tool:nB', 'approval-requested:g1']));
    expect(aSlow.resumed).toEqual(['approval-resolved:g1', 'tool:g1', 'model:3', 'task:finish']);
    expect(aSlow.resumed.filter((n) => aSlow.first.includes(n))).toEqual([]);
  });
});
