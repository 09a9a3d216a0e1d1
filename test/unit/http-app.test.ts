import { describe, expect, it } from 'vitest';
import { bearerTokenAuth, createHttpApp } from '../../lib/http/index.js';
import { TaskService } from '../../lib/task/index.js';
import { MemoryTaskStore } from '../../lib/task/index.js';

/** The app on in-memory ports, called through `app.request` (no server): what the Lambda adapter does too. */
function build() {
  const store = new MemoryTaskStore();
  const sent: string[] = [];
  const cancelled: string[] = [];
  const service = new TaskService({ store, queue: { send: (m) => void sent.push(m.taskId) }, onCancel: (id) => void cancelled.push(id) });
  const auth = bearerTokenAuth('alice-token-123', 'alice');
  const app = createHttpApp({ service, authenticate: (req, env) => auth(req, env) ?? (req.headers.get('authorization') === 'Bearer bob-token-123' ? 'bob' : undefined) });
  const call = (path: string, init: RequestInit = {}, token = 'alice-token-123') =>
    app.request(path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  return { store, sent, cancelled, call };
}

describe('createHttpApp on in-memory ports', () => {
  it('takes the account from the token, never the body, and hides other accounts\' tasks', async () => {
    const { call, store } = build();
    const res = await call('/tasks', { method: 'POST', body: JSON.stringify({ prompt: 'mine' }) });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    expect((await store.get(taskId))?.accountId).toBe('alice');
    expect((await call(`/tasks/${taskId}`, {}, 'bob-token-123')).status).toBe(404);
    expect((await call(`/tasks/${taskId}/cancel`, { method: 'POST' }, 'bob-token-123')).status).toBe(404);
    expect((await call(`/tasks/${taskId}`)).status).toBe(200);
  });

  it('keys idempotency per account', async () => {
    const { call, sent } = build();
    const body = JSON.stringify({ prompt: 'once', idempotencyKey: 'k1' });
    const a = (await (await call('/tasks', { method: 'POST', body })).json()) as { taskId: string };
    const again = await call('/tasks', { method: 'POST', body });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { taskId: string }).taskId).toBe(a.taskId);
    const bob = (await (await call('/tasks', { method: 'POST', body }, 'bob-token-123')).json()) as { taskId: string };
    expect(bob.taskId).not.toBe(a.taskId);
    expect(new Set(sent)).toEqual(new Set([a.taskId, bob.taskId]));
  });

  it('cancels a queued task with one task.cancelled event and leaves a finished one alone', async () => {
    const { call, store, cancelled } = build();
    const { taskId } = (await (await call('/tasks', { method: 'POST', body: '{"prompt":"stop me"}' })).json()) as { taskId: string };
    const res = await call(`/tasks/${taskId}/cancel`, { method: 'POST' });
    expect(await res.json()).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' } });
    expect((await store.listEvents(taskId)).map((e) => e.type)).toEqual(['task.queued', 'task.cancelled']);
    expect(cancelled).toEqual([]);
    await call(`/tasks/${taskId}/cancel`, { method: 'POST' });
    expect((await store.listEvents(taskId)).map((e) => e.type)).toEqual(['task.queued', 'task.cancelled']);
  });

  it('answers 501 JSON for schedules and approvals when the runtime has none, and 400 for bad query values', async () => {
    const { call } = build();
    expect(await (await call('/schedules')).json()).toMatchObject({ error: { code: 'not_implemented' } });
    const { taskId } = (await (await call('/tasks', { method: 'POST', body: '{"prompt":"x"}' })).json()) as { taskId: string };
    expect((await call(`/tasks/${taskId}/approvals/a1`, { method: 'POST', body: '{"approve":true}' })).status).toBe(501);
    expect((await call(`/tasks/${taskId}/events?after=-1`)).status).toBe(400);
  });
});
