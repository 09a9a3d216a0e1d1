// The deep-agent dashboard: plain ES module, no build step. The API token lives in sessionStorage (never in a
// URL); every request sends it as a bearer header, so live events use fetch streaming (EventSource cannot
// send headers). All text goes in through textContent: nothing from a task is parsed as HTML.

const TOKEN_KEY = 'deep-agent-token';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const TERMINAL_EVENTS = new Set(['task.succeeded', 'task.failed', 'task.cancelled']);
const OUTPUT_CHARS = 2000;
const main = document.getElementById('main');
const nav = document.getElementById('nav');

/** The page's teardown (timers, streams) when the route changes. */
let leave = () => {};

const token = () => sessionStorage.getItem(TOKEN_KEY);

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token()}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401) signOut('Your token was not accepted; sign in again.');
    throw new ApiError(res.status, parsed?.error?.code ?? `http_${res.status}`, parsed?.error?.message ?? `${method} ${path} answered ${res.status}`);
  }
  return parsed;
}

/** Builds an element: h('td', { class: 'num' }, 'text', child). Strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const svg = (tag, attrs = {}, ...children) => {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : String(c));
  return el;
};

const money = (usd) => `$${(usd ?? 0).toFixed(4)}`;
const short = (id) => (id.length > 12 ? `${id.slice(0, 8)}…` : id);
function age(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
const clip = (s, n) => (s.length > n ? `${s.slice(0, n)}… (${s.length - n} more characters)` : s);
const pretty = (v) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2) ?? '');
const badge = (status) => h('span', { class: `badge ${status}`, 'data-status': status }, status.replace('_', ' '));
// replaceChildren would insert the text "undefined" for an absent section.
const show = (...nodes) => main.replaceChildren(...nodes.filter((n) => n !== undefined && n !== null && n !== false));
const errorLine = (e) => h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e));

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  leave();
  leave = () => {};
  nav.hidden = true;
  renderSignIn(message);
}

function renderSignIn(message) {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', placeholder: 'API token', required: true });
  const problem = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    {
      class: 'panel signin',
      id: 'sign-in',
      onsubmit: async (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        try {
          await api('GET', '/tasks?limit=1');
          nav.hidden = false;
          if (!location.hash || location.hash === '#/') location.hash = '#/tasks';
          else route();
        } catch (e) {
          sessionStorage.removeItem(TOKEN_KEY);
          problem.textContent = e.status === 401 ? 'That token was not accepted.' : e.message;
        }
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste the API token (DEEP_AGENT_API_TOKEN, or the api-token file under DEEP_AGENT_HOME). It stays in this tab only.'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    problem,
  );
  show(form);
  input.focus();
}

// ---------------------------------------------------------------- task list

function renderTaskList() {
  const body = h('tbody', { id: 'task-rows' });
  const problem = h('div');
  const status = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'any status'), ...['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'].map((s) => h('option', { value: s }, s)));
  const prompt = h('textarea', { id: 'new-prompt', placeholder: 'Describe a task for the agent…', required: true });
  const submitForm = h(
    'form',
    {
      class: 'panel',
      id: 'submit-task',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const { taskId } = await api('POST', '/tasks', { prompt: prompt.value });
          location.hash = `#/tasks/${encodeURIComponent(taskId)}`;
        } catch (e) {
          problem.replaceChildren(errorLine(e));
        }
      },
    },
    prompt,
    h('p', {}, h('button', { type: 'submit', class: 'primary' }, 'Run task')),
  );
  let cursor;
  const more = h('button', { type: 'button', id: 'more', hidden: true, onclick: () => load(true) }, 'Older tasks');
  const row = (t) =>
    h(
      'tr',
      { 'data-task-id': t.id },
      h('td', {}, h('a', { href: `#/tasks/${encodeURIComponent(t.id)}`, title: t.id }, short(t.id))),
      h('td', {}, badge(t.status)),
      h('td', {}, t.source),
      h('td', { class: 'num' }, age(t.createdAt)),
      h('td', { class: 'num' }, String(t.steps)),
      h('td', { class: 'num' }, money(t.usage?.costUsd)),
      h('td', {}, clip(t.prompt.replace(/\s+/g, ' '), 90)),
    );
  async function load(older = false) {
    try {
      const q = new URLSearchParams({ limit: '25' });
      if (status.value) q.set('status', status.value);
      if (older && cursor) q.set('cursor', cursor);
      const page = await api('GET', `/tasks?${q}`);
      if (older) body.append(...page.tasks.map(row));
      else body.replaceChildren(...(page.tasks.length ? page.tasks.map(row) : [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No tasks yet.'))]));
      cursor = page.nextCursor;
      more.hidden = !cursor;
      problem.replaceChildren();
    } catch (e) {
      problem.replaceChildren(errorLine(e));
    }
  }
  status.addEventListener('change', () => load());
  show(
    h('h1', {}, 'Tasks'),
    submitForm,
    h('h2', {}, 'Recent'),
    h('form', { class: 'inline', onsubmit: (ev) => ev.preventDefault() }, status),
    problem,
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Task'), h('th', {}, 'Status'), h('th', {}, 'Source'), h('th', { class: 'num' }, 'Age'), h('th', { class: 'num' }, 'Steps'), h('th', { class: 'num' }, 'Cost'), h('th', {}, 'Prompt'))), body),
    h('p', {}, more),
  );
  load();
  // The first page refreshes while it is shown, so new and running tasks appear without a reload.
  const timer = setInterval(() => {
    if (!cursor || body.children.length <= 25) load();
  }, 2000);
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------- live events

/** SSE messages (`data` lines joined) from a fetch body. */
async function* sseMessages(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  signal.addEventListener('abort', () => reader.cancel().catch(() => {}), { once: true });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''));
      const event = block.split(/\r?\n/).find((l) => l.startsWith('event:'))?.slice(6).trim();
      if (data.length) yield { event, data: data.join('\n') };
    }
  }
}

/**
 * Follows a task's events: the SSE stream (resuming with Last-Event-ID after a drop), or the long-poll when the
 * service answers JSON (API Gateway). Calls onEvent once per event, in order.
 */
function followEvents(taskId, onEvent, onProblem) {
  const controller = new AbortController();
  let last = 0;
  let done = false;
  const take = (e) => {
    if (e.seq <= last) return;
    last = e.seq;
    onEvent(e);
    if (TERMINAL_EVENTS.has(e.type)) done = true;
  };
  (async () => {
    let failures = 0;
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(`/tasks/${encodeURIComponent(taskId)}/events?after=${last}&wait=20`, {
          headers: { authorization: `Bearer ${token()}`, accept: 'text/event-stream', ...(last ? { 'last-event-id': String(last) } : {}) },
          signal: controller.signal,
        });
        if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `the event stream answered ${res.status}`);
        failures = 0;
        onProblem(undefined);
        if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
          for await (const m of sseMessages(res.body, controller.signal)) if (m.event !== 'error') take(JSON.parse(m.data));
        } else {
          const page = await res.json();
          for (const e of page.events) take(e);
          if (!page.events.length && done) return;
        }
        if (done) return;
      } catch (e) {
        if (controller.signal.aborted) return;
        if (e.status === 401 || e.status === 404) return onProblem(e);
        failures++;
        onProblem(new Error(`live updates interrupted; reconnecting (${failures})`));
        await new Promise((r) => setTimeout(r, Math.min(5000, 500 * failures)));
      }
    }
  })();
  return () => controller.abort();
}

// ---------------------------------------------------------------- task page

/** The task as its events tell it: the timeline (with sub-agents nested), approvals, cost per turn. */
function foldEvents(events) {
  const root = { kind: 'root', items: [] };
  const calls = new Map();
  const subs = new Map();
  const open = [root];
  const approvals = new Map();
  const turns = [];
  let plan = [];
  for (const e of events) {
    const d = e.data ?? {};
    const here = open.at(-1);
    switch (e.type) {
      case 'plan.updated':
        plan = d.plan ?? [];
        break;
      case 'model.response':
        turns.push({ agent: d.agent, turn: d.turn, costUsd: d.usage?.costUsd ?? 0, inputTokens: d.usage?.inputTokens ?? 0, outputTokens: d.usage?.outputTokens ?? 0 });
        if (d.text) here.items.push({ kind: 'say', text: d.text, agent: d.agent });
        break;
      case 'tool.called': {
        const call = { kind: 'call', id: d.id, name: d.name, input: d.input, seq: e.seq };
        calls.set(d.id, call);
        here.items.push(call);
        break;
      }
      case 'tool.result': {
        const call = calls.get(d.id) ?? { kind: 'call', id: d.id, name: d.name };
        Object.assign(call, { done: true, ok: d.ok, durationMs: d.durationMs, output: d.output ?? '' });
        break;
      }
      case 'subagent.started': {
        const sub = { kind: 'sub', id: d.id, description: d.description, items: [] };
        subs.set(d.id, sub);
        here.items.push(sub);
        open.push(sub);
        break;
      }
      case 'subagent.finished': {
        const sub = subs.get(d.id);
        if (sub) Object.assign(sub, { done: true, ok: d.ok, answer: d.answer, error: d.error });
        const at = open.indexOf(sub);
        if (at > 0) open.splice(at, 1);
        break;
      }
      case 'approval.requested':
        approvals.set(d.approvalId, { ...d, pending: true });
        break;
      case 'approval.resolved': {
        const a = approvals.get(d.approvalId);
        if (a) Object.assign(a, { pending: false, approve: d.approve, reason: d.reason ?? a.reason });
        break;
      }
      default:
        break;
    }
  }
  return { root, plan, approvals: [...approvals.values()], turns };
}

function renderCall(call) {
  const state = !call.done ? 'running…' : `${call.ok ? 'ok' : 'error'} · ${call.durationMs ?? 0} ms`;
  return h(
    'div',
    { class: `call ${!call.done ? 'pending' : call.ok ? 'ok' : 'err'}`, 'data-tool': call.name, 'data-call-id': call.id },
    h('div', { class: 'head' }, h('span', { class: 'name' }, call.name), h('span', { class: 'state' }, state)),
    h('details', {}, h('summary', {}, 'input'), h('pre', { class: 'input' }, clip(pretty(call.input), OUTPUT_CHARS))),
    call.done ? h('pre', { class: 'output' }, clip(pretty(call.output) || '(no output)', OUTPUT_CHARS)) : undefined,
  );
}

function renderItems(items) {
  return items.map((item) => {
    if (item.kind === 'say') return h('div', { class: 'say' }, item.text);
    if (item.kind === 'call') return renderCall(item);
    return h(
      'div',
      { class: 'sub', 'data-subagent': item.id },
      h('div', { class: 'title' }, `Sub-agent: ${item.description || item.id}`, item.done ? h('span', { class: 'muted' }, item.ok ? ' · finished' : ' · failed') : h('span', { class: 'muted' }, ' · working…')),
      ...renderItems(item.items),
      // The answer is usually the sub-agent's last text, already shown.
      item.answer && !item.items.some((i) => i.kind === 'say' && i.text.trim() === item.answer.trim()) ? h('div', { class: 'say' }, clip(item.answer, OUTPUT_CHARS)) : undefined,
    );
  });
}

/** The final answer has its own Result section: drop the same text at the end of the timeline. */
function withoutFinalAnswer(items, result) {
  const last = items.at(-1);
  return result && last?.kind === 'say' && last.text.trim() === result.trim() ? items.slice(0, -1) : items;
}

/** Cost per model turn as an inline SVG bar chart. */
function costChart(turns) {
  const width = 600;
  const height = 260;
  const pad = { left: 110, right: 10, top: 16, bottom: 34 };
  const max = Math.max(...turns.map((t) => t.costUsd), 1e-6);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const barW = turns.length ? Math.min(40, plotW / turns.length - 4) : 0;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'cost per model turn', id: 'cost-chart' });
  chart.append(svg('line', { class: 'axis', x1: pad.left, y1: pad.top + plotH, x2: width - pad.right, y2: pad.top + plotH }));
  chart.append(svg('text', { x: 4, y: pad.top + 16 }, money(max)));
  chart.append(svg('text', { x: 4, y: pad.top + plotH }, '$0'));
  turns.forEach((t, i) => {
    const barH = Math.max(1, (t.costUsd / max) * plotH);
    const x = pad.left + i * (plotW / Math.max(turns.length, 1)) + 2;
    const bar = svg('rect', { class: 'bar', x, y: pad.top + plotH - barH, width: Math.max(barW, 2), height: barH });
    bar.append(svg('title', {}, `turn ${i + 1} (${t.agent}): ${money(t.costUsd)}, ${t.inputTokens} in / ${t.outputTokens} out`));
    chart.append(bar);
    if (turns.length <= 30) chart.append(svg('text', { x: x + 2, y: height - 8 }, String(i + 1)));
  });
  return h('div', { class: 'chart' }, chart);
}

function renderTaskPage(taskId) {
  const events = [];
  let record;
  let problem;
  let liveProblem;
  let frame = 0;
  const draw = () => {
    frame = 0;
    if (!record) return;
    const { root, plan, approvals, turns } = foldEvents(events);
    const u = record.usage;
    const pending = approvals.filter((a) => a.pending);
    show(
      h('p', {}, h('a', { href: '#/tasks' }, '← Tasks')),
      h('h1', {}, 'Task ', h('code', {}, record.id), ' ', badge(record.status)),
      h('p', { class: 'prompt' }, record.prompt),
      h(
        'dl',
        { class: 'facts panel', id: 'totals' },
        ...[
          ['source', record.source],
          ['age', age(record.createdAt)],
          ['steps', String(record.steps)],
          ['input tokens', String(u.inputTokens)],
          ['output tokens', String(u.outputTokens)],
          ['cache read / write', `${u.cacheReadTokens} / ${u.cacheWriteTokens}`],
          ['cost', money(u.costUsd)],
        ].map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', { 'data-fact': k }, v))),
      ),
      problem ? errorLine(problem) : undefined,
      liveProblem ? h('p', { class: 'muted' }, liveProblem.message) : undefined,
      !TERMINAL.has(record.status)
        ? h('p', {}, h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: () => act(() => api('POST', `/tasks/${encodeURIComponent(taskId)}/cancel`, {})) }, 'Cancel task'))
        : undefined,
      record.error ? h('p', { class: 'error' }, `${record.error.code}: ${record.error.message}`) : undefined,
      pending.length
        ? h(
            'section',
            { id: 'approvals' },
            h('h2', {}, 'Waiting for your approval'),
            ...pending.map((a) =>
              h(
                'div',
                { class: 'approval', 'data-approval-id': a.approvalId },
                h('div', {}, h('strong', {}, a.tool), ' — ', a.reason),
                h('pre', {}, clip(pretty(a.input), OUTPUT_CHARS)),
                h(
                  'div',
                  { class: 'actions' },
                  h('button', { type: 'button', class: 'approve', onclick: (ev) => decide(ev, a.approvalId, true) }, 'Approve'),
                  h('button', { type: 'button', class: 'deny', onclick: (ev) => decide(ev, a.approvalId, false) }, 'Deny'),
                ),
              ),
            ),
          )
        : undefined,
      h(
        'div',
        { class: 'grid' },
        h('section', {}, h('h2', {}, 'Activity'), h('div', { class: 'timeline', id: 'timeline' }, ...renderItems(withoutFinalAnswer(root.items, record.result?.text))), record.result ? h('div', {}, h('h2', {}, 'Result'), h('div', { class: 'say', id: 'result' }, record.result.text)) : undefined),
        h(
          'aside',
          {},
          h('h2', {}, 'Plan'),
          plan.length ? h('ul', { class: 'plan', id: 'plan' }, ...plan.map((p) => h('li', { class: p.status, 'data-plan-status': p.status }, p.content))) : h('p', { class: 'muted', id: 'plan' }, 'No plan yet.'),
          h('h2', {}, 'Cost per turn'),
          costChart(turns),
          approvals.some((a) => !a.pending) ? h('h2', {}, 'Decisions') : undefined,
          ...approvals.filter((a) => !a.pending).map((a) => h('p', { class: 'muted' }, `${a.approve ? 'Approved' : 'Denied'}: ${a.tool}`)),
        ),
      ),
    );
  };
  const redraw = () => (frame ||= requestAnimationFrame(draw));
  const refresh = async () => {
    try {
      record = await api('GET', `/tasks/${encodeURIComponent(taskId)}`);
      problem = undefined;
    } catch (e) {
      problem = e;
    }
    redraw();
  };
  async function act(fn) {
    try {
      await fn();
    } catch (e) {
      problem = e;
    }
    await refresh();
  }
  function decide(ev, approvalId, approve) {
    for (const b of ev.target.parentElement.querySelectorAll('button')) b.disabled = true;
    act(() => api('POST', `/tasks/${encodeURIComponent(taskId)}/approvals/${encodeURIComponent(approvalId)}`, { approve, ...(approve ? {} : { reason: 'denied in the dashboard' }) }));
  }
  // Record fields (status, usage) change with the events: re-read it at most every 300 ms while events arrive.
  let pendingRefresh;
  const onEvent = (e) => {
    events.push(e);
    if (!pendingRefresh) pendingRefresh = setTimeout(() => ((pendingRefresh = undefined), refresh()), TERMINAL_EVENTS.has(e.type) ? 0 : 300);
    redraw();
  };
  show(h('p', { class: 'muted' }, 'Loading task…'));
  refresh();
  const stop = followEvents(taskId, onEvent, (e) => {
    liveProblem = e;
    redraw();
  });
  const ticker = setInterval(redraw, 5000); // ages
  return () => {
    stop();
    clearInterval(ticker);
    clearTimeout(pendingRefresh);
    if (frame) cancelAnimationFrame(frame);
  };
}

// ---------------------------------------------------------------- schedules

function renderSchedules() {
  const rows = h('tbody', { id: 'schedule-rows' });
  const problem = h('div');
  const kind = h('select', { id: 'schedule-kind' }, h('option', { value: 'cron' }, 'cron'), h('option', { value: 'rate' }, 'rate'));
  const expr = h('input', { type: 'text', id: 'schedule-expression', placeholder: '0 9 * * 1-5  or  rate(1 hour)', required: true });
  const tz = h('input', { type: 'text', id: 'schedule-timezone', placeholder: 'timezone (optional), e.g. Europe/Paris' });
  const prompt = h('input', { type: 'text', id: 'schedule-prompt', placeholder: 'task prompt', required: true });
  async function load() {
    try {
      const { schedules } = await api('GET', '/schedules');
      rows.replaceChildren(
        ...(schedules.length
          ? schedules.map((s) =>
              h(
                'tr',
                { 'data-schedule-id': s.id },
                h('td', {}, h('code', {}, short(String(s.id)))),
                h('td', {}, String(s.cron ?? s.rate ?? s.expression ?? ''), s.timezone ? h('span', { class: 'muted' }, ` (${s.timezone})`) : undefined),
                h('td', {}, clip(String(s.prompt ?? ''), 90)),
                h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => remove(s.id) }, 'Remove')),
              ),
            )
          : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No schedules.'))]),
      );
      problem.replaceChildren();
    } catch (e) {
      problem.replaceChildren(errorLine(e));
    }
  }
  async function remove(id) {
    try {
      await api('DELETE', `/schedules/${encodeURIComponent(id)}`);
    } catch (e) {
      problem.replaceChildren(errorLine(e));
    }
    load();
  }
  const form = h(
    'form',
    {
      class: 'inline panel',
      id: 'add-schedule',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          await api('POST', '/schedules', { [kind.value]: expr.value.trim(), prompt: prompt.value, ...(tz.value.trim() ? { timezone: tz.value.trim() } : {}) });
          expr.value = '';
          prompt.value = '';
          load();
        } catch (e) {
          problem.replaceChildren(errorLine(e));
        }
      },
    },
    kind,
    expr,
    tz,
    prompt,
    h('button', { type: 'submit', class: 'primary' }, 'Add schedule'),
  );
  show(h('h1', {}, 'Schedules'), form, problem, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'When'), h('th', {}, 'Prompt'), h('th', {}, ''))), rows));
  load();
  return () => {};
}

// ---------------------------------------------------------------- MCP connections

function renderMcp() {
  const defs = h('div', { id: 'mcp-definitions', class: 'timeline' });
  const rows = h('tbody', { id: 'mcp-connections' });
  const problem = h('div');
  async function load() {
    try {
      const [{ definitions }, { connections }] = await Promise.all([api('GET', '/mcp-server-definitions'), api('GET', '/mcp-connections')]);
      defs.replaceChildren(...definitions.map(definitionCard));
      rows.replaceChildren(
        ...(connections.length
          ? connections.map((c) =>
              h(
                'tr',
                { 'data-connection-id': c.id },
                h('td', {}, c.name),
                h('td', {}, c.definitionId),
                h('td', {}, badge(c.status === 'running' ? 'succeeded' : c.status === 'failed' ? 'failed' : 'queued'), ' ', c.status),
                h('td', {}, (c.tools ?? []).join(', ') || '—', c.lastError ? h('div', { class: 'error' }, c.lastError) : undefined),
                h('td', {}, h('button', { type: 'button', class: 'danger', onclick: () => remove(c.id) }, 'Remove')),
              ),
            )
          : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No connections.'))]),
      );
      problem.replaceChildren();
    } catch (e) {
      problem.replaceChildren(errorLine(e));
    }
  }
  function definitionCard(d) {
    const fields = Object.entries(d.credentialSchema ?? {}).map(([name, f]) => h('input', { type: 'password', name, placeholder: `${name}${f.required === false ? ' (optional)' : ''}`, required: f.required !== false, autocomplete: 'off' }));
    const name = h('input', { type: 'text', name: 'name', placeholder: `name (default ${d.id})` });
    return h(
      'form',
      {
        class: 'panel inline',
        'data-definition-id': d.id,
        onsubmit: async (ev) => {
          ev.preventDefault();
          const credentials = Object.fromEntries(fields.filter((f) => f.value).map((f) => [f.name, f.value]));
          try {
            await api('POST', '/mcp-connections/install', { definitionId: d.id, ...(name.value.trim() ? { name: name.value.trim() } : {}), credentials });
            for (const f of fields) f.value = '';
          } catch (e) {
            problem.replaceChildren(errorLine(e));
          }
          load();
        },
      },
      h('div', {}, h('strong', {}, d.title), ' ', h('span', { class: 'muted' }, d.description ?? '')),
      name,
      ...fields,
      h('button', { type: 'submit', class: 'primary' }, 'Install'),
    );
  }
  async function remove(id) {
    try {
      await api('DELETE', `/mcp-connections/${encodeURIComponent(id)}`);
    } catch (e) {
      problem.replaceChildren(errorLine(e));
    }
    load();
  }
  show(
    h('h1', {}, 'MCP connections'),
    problem,
    h('h2', {}, 'Connections'),
    h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Definition'), h('th', {}, 'Status'), h('th', {}, 'Tools'), h('th', {}, ''))), rows),
    h('h2', {}, 'Install a server'),
    defs,
  );
  load();
  const timer = setInterval(load, 5000); // health status changes on its own
  return () => clearInterval(timer);
}

// ---------------------------------------------------------------- routing

function route() {
  leave();
  leave = () => {};
  if (!token()) return signOut();
  nav.hidden = false;
  const path = location.hash.replace(/^#/, '') || '/tasks';
  const task = /^\/tasks\/(.+)$/.exec(path);
  if (task) leave = renderTaskPage(decodeURIComponent(task[1]));
  else if (path === '/schedules') leave = renderSchedules();
  else if (path === '/mcp') leave = renderMcp();
  else leave = renderTaskList();
}

document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);
route();
