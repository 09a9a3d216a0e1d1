import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noSandbox, modelFor } from '../helpers/factories.js';
import { startLocalService, type LocalService, type LocalServiceOptions } from '../../lib/local/index.js';
import { startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

const TOKEN = 'schedules-token-0123456789';
let now = Date.parse('2026-03-27T12:00:30Z');
const clock = () => now;

let model: ScriptedModelServer;
let home: string;
let options: LocalServiceOptions;

const call = async (svc: LocalService, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${svc.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
};

beforeAll(async () => {
  model = await startScriptedModel(() => ({ text: 'scheduled work done' }));
  home = mkdtempSync(join(tmpdir(), 'service-schedules-'));
  options = { home, token: TOKEN, model: await modelFor(model), sandboxProvider: noSandbox, port: 0, clock, schedulerIntervalMs: 0, pollIntervalMs: 20 };
});
afterAll(async () => {
  await model?.close();
  rmSync(home, { recursive: true, force: true });
});

describe('schedules over HTTP with a controllable clock', () => {
  it('validates, fires each slot once into the queue, and never twice after a restart', async () => {
    let svc = await startLocalService(options);
    const bad = await call(svc, 'POST', '/schedules', { cron: 'not a cron', prompt: 'x' });
    expect(bad.status).toBe(400);
    expect((await call(svc, 'POST', '/schedules', { cron: '0 9 * * *', rate: 'rate(1 hour)', prompt: 'x' })).status).toBe(400);
    const rate = await call(svc, 'POST', '/schedules', { rate: 'rate(1 minute)', prompt: 'every minute' });
    expect(rate.status).toBe(201);
    const cron = await call(svc, 'POST', '/schedules', { cron: '5 13 * * *', timezone: 'Europe/Paris', prompt: 'daily at 13:05 Paris' });
    expect(cron.status).toBe(201);
    expect((await call(svc, 'GET', '/schedules')).body.schedules.map((s: { id: string }) => s.id)).toEqual([rate.body.id, cron.body.id]);

    // 30 s later: no slot yet. 60 s after creation: the rate's first slot.
    now += 30_000;
    expect(await svc.scheduler.tick()).toEqual([]);
    now += 30_000;
    const first = await svc.scheduler.tick();
    expect(first).toEqual([{ scheduleId: rate.body.id, slot: new Date('2026-03-27T12:01:30Z'), ok: true }]);
    expect(await svc.scheduler.tick()).toEqual([]);
    await svc.stop(1_000);

    // A restart at the same moment fires nothing again; the next slots fire once each.
    svc = await startLocalService(options);
    expect(await svc.scheduler.tick()).toEqual([]);
    now = Date.parse('2026-03-27T12:05:10Z'); // 13:05 in Paris (UTC+1 in March before the DST change)
    const second = await svc.scheduler.tick();
    expect(second.map((f) => [f.scheduleId, f.slot.toISOString()])).toEqual([
      [rate.body.id, '2026-03-27T12:04:30.000Z'],
      [cron.body.id, '2026-03-27T12:05:00.000Z'],
    ]);
    const tasks = await svc.storage.tasks.list();
    expect(tasks.map((t) => [t.source, t.prompt]).sort()).toEqual([
      ['schedule', 'daily at 13:05 Paris'],
      ['schedule', 'every minute'],
      ['schedule', 'every minute'],
    ]);
    // They run like any task.
    for (const t of tasks) {
      for (let i = 0; i < 100 && (await svc.storage.tasks.get(t.id))!.status !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 30));
      expect((await svc.storage.tasks.get(t.id))!.status).toBe('succeeded');
    }

    expect((await call(svc, 'DELETE', `/schedules/${rate.body.id}`)).status).toBe(200);
    expect((await call(svc, 'DELETE', `/schedules/${rate.body.id}`)).status).toBe(404);
    now += 10 * 60_000;
    expect((await svc.scheduler.tick()).map((f) => f.scheduleId)).not.toContain(rate.body.id);
    await svc.stop(1_000);
  });
});
