/**
 * The web dashboard in a real browser: headless Debian Chromium (playwright-core) against a `deep-agent serve`
 * subprocess with the scripted model. The model's turns are held until the test releases them, so each live
 * update is watched arriving on an open page: sign in, see the running task appear, its plan and tool calls
 * update without a reload, approve the waiting call with the button, see it succeed with its cost. A
 * screenshot of the task page goes to test-output/dashboard.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../lib/task/index.js';
import { baseEnv, REPO_ROOT, runCli, startServe } from '../helpers/cli.js';
import { firstUserText, startScriptedModel, type ScriptedModelServer, type ScriptedReply } from '../helpers/scripted-model.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-token-0123456789';
const PROMPT = 'tidy the workspace notes';
const SUB_PROMPT = 'write side.txt and say so';
const SCREENSHOT = join(REPO_ROOT, 'test-output', 'dashboard.png');

/** Turns of the scripted model, each waiting for `release(turn)`. */
const TURNS: Record<number, ScriptedReply> = {
  1: { text: 'First I will make a plan.', toolUses: [{ name: 'write_todos', input: { todos: [{ content: 'write the notes file', status: 'in_progress' }, { content: 'list the workspace', status: 'pending' }] } }] },
  2: {
    text: 'Writing the notes now.',
    toolUses: [
      { name: 'write_file', input: { path: 'notes.txt', content: 'dashboard notes\n' } },
      { name: 'task', input: { description: 'write the side file', prompt: SUB_PROMPT } },
    ],
  },
  3: {
    toolUses: [
      { name: 'write_todos', input: { todos: [{ content: 'write the notes file', status: 'completed' }, { content: 'list the workspace', status: 'in_progress' }] } },
      { name: 'run_command', input: { command: 'ls && echo listed-by-approval' } },
    ],
  },
  4: { text: 'The notes are written and the workspace is listed.' },
};

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in headless Chromium (needs Debian chromium at /usr/bin/chromium)', () => {
  let model: ScriptedModelServer;
  let home: string;
  let profile: string;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let context: BrowserContext;
  let page: Page;
  const gates = new Map<number, () => void>();
  const opened = new Map<number, Promise<void>>();
  const gate = (turn: number) => {
    if (!opened.has(turn)) opened.set(turn, new Promise<void>((r) => gates.set(turn, r)));
    return opened.get(turn)!;
  };
  const release = (turn: number) => {
    void gate(turn);
    gates.get(turn)!();
  };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    model = await startScriptedModel(async (req) => {
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
      if (firstUserText(req) === SUB_PROMPT) {
        return turn === 1 ? { toolUses: [{ name: 'write_file', input: { path: 'side.txt', content: 'side\n' } }] } : { text: 'The sub-agent wrote side.txt.' };
      }
      if (firstUserText(req) !== PROMPT) return { text: 'done' };
      await gate(turn);
      return TURNS[turn] ?? { text: 'done' };
    });
    home = mkdtempSync(join(tmpdir(), 'dashboard-'));
    profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    serve = await startServe(
      baseEnv({
        ANTHROPIC_API_KEY: 'sk-ant-test-dashboard',
        ANTHROPIC_BASE_URL: model.url,
        DEEP_AGENT_HOME: home,
        DEEP_AGENT_API_TOKEN: TOKEN,
        DEEP_AGENT_APPROVE_TOOLS: 'run_command',
      }),
    );
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 60_000);
  afterAll(async () => {
    for (const turn of [1, 2, 3, 4]) release(turn);
    await context?.close();
    serve?.child.kill('SIGKILL');
    await model?.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  });

  it('signs in, watches a task run live, approves its call with the button, and shows its cost', async () => {
    // Sign in: the token goes into the page, never into a URL.
    await page.goto(`${serve.url}/`);
    await page.fill('#token', TOKEN);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#task-rows');
    expect(page.url()).not.toContain(TOKEN);

    // A task submitted elsewhere appears in the list as running (its first model turn is held).
    const res = await fetch(`${serve.url}/tasks`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ prompt: PROMPT }) });
    const { taskId } = (await res.json()) as { taskId: string };
    const row = page.locator(`tr[data-task-id="${taskId}"]`);
    await row.locator('[data-status="running"]').waitFor({ timeout: 15_000 });

    // Open it; from here on nothing reloads the page (the marker would vanish).
    await row.locator('a').click();
    await page.waitForSelector('#timeline', { state: 'attached' });
    await page.evaluate(() => ((globalThis as unknown as { marker: string }).marker = 'same page'));
    await page.locator('#plan', { hasText: 'No plan yet.' }).waitFor();

    release(1);
    await page.locator('#plan li.in_progress', { hasText: 'write the notes file' }).waitFor();
    await page.locator('.say', { hasText: 'First I will make a plan.' }).waitFor();

    release(2);
    const writeCall = page.locator('#timeline > .call[data-tool="write_file"]');
    await writeCall.locator('pre.output').waitFor();
    expect(await writeCall.locator('.state').textContent()).toMatch(/^ok · \d+ ms$/);
    await page.locator('.say', { hasText: 'Writing the notes now.' }).waitFor();
    // The sub-agent's own call sits inside its block.
    const sub = page.locator('#timeline > .sub', { hasText: 'write the side file' });
    await sub.locator('.call[data-tool="write_file"] pre.output', { hasText: 'side.txt' }).waitFor();
    await sub.locator('.title', { hasText: 'finished' }).waitFor();

    // The command needs approval: the card shows its reason and the buttons.
    release(3);
    const card = page.locator('#approvals .approval');
    await card.waitFor();
    expect(await card.textContent()).toContain('run_command');
    await page.locator('[data-status="waiting_approval"]').first().waitFor();
    await page.locator('#plan li.completed', { hasText: 'write the notes file' }).waitFor();
    release(4);
    await card.locator('button.approve').click();

    const runCall = page.locator('.call[data-tool="run_command"]');
    await runCall.locator('pre.output', { hasText: 'listed-by-approval' }).waitFor({ timeout: 15_000 });
    await page.locator('h1 [data-status="succeeded"]').waitFor({ timeout: 15_000 });
    await page.locator('#result', { hasText: 'The notes are written' }).waitFor();
    await page.locator('#cost-chart rect.bar').nth(3).waitFor();

    // assess: the same page all along, the record's cost shown, and a screenshot for people to look at.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: string }).marker)).toBe('same page');
    const record = (await (await fetch(`${serve.url}/tasks/${taskId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as TaskRecord;
    expect(record.status).toBe('succeeded');
    expect(record.usage.costUsd).toBeGreaterThan(0);
    expect(await page.locator('[data-fact="cost"]').textContent()).toBe(`$${record.usage.costUsd.toFixed(4)}`);
    expect(await page.locator('[data-fact="steps"]').textContent()).toBe(String(record.steps));
    expect(await page.locator('#approvals').count()).toBe(0);
    expect(await page.locator('main').textContent()).not.toContain('undefined');
    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(pageErrors).toEqual([]);

    // serve said what happened to it, one line each.
    const log = serve.stderr();
    expect(log).toMatch(new RegExp(`task ${taskId} received \\(http\\)`));
    expect(log).toMatch(new RegExp(`task ${taskId} started`));
    expect(log).toMatch(new RegExp(`task ${taskId} waiting for approval of run_command`));
    expect(log).toContain(`task ${taskId} succeeded, ${record.steps} steps, $${record.usage.costUsd.toFixed(4)}`);

    // The same task from the CLI's `tasks`.
    const listed = await runCli(['tasks', '--json'], baseEnv({ DEEP_AGENT_HOME: home, DEEP_AGENT_API_TOKEN: TOKEN, DEEP_AGENT_API_URL: serve.url }));
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as TaskRecord[]).map((t) => [t.id, t.status])).toContainEqual([taskId, 'succeeded']);
    const lines = await runCli(['tasks', '--status', 'succeeded'], baseEnv({ DEEP_AGENT_HOME: home, DEEP_AGENT_API_TOKEN: TOKEN, DEEP_AGENT_API_URL: serve.url }));
    expect(lines.stdout).toMatch(new RegExp(`^${taskId}  succeeded +http +\\d+s  ${record.steps} steps  \\$${record.usage.costUsd.toFixed(4)}  ${PROMPT}$`, 'm'));
    const none = await runCli(['tasks', '--status', 'failed'], baseEnv({ DEEP_AGENT_HOME: home, DEEP_AGENT_API_TOKEN: TOKEN, DEEP_AGENT_API_URL: serve.url }));
    expect(none.stdout).toBe('no tasks\n');
  }, 90_000);

  it('adds and removes a schedule, and lists the MCP definitions', async () => {
    await page.goto(`${serve.url}/#/schedules`);
    await page.waitForSelector('#add-schedule');
    await page.fill('#schedule-expression', '0 9 * * 1-5');
    await page.fill('#schedule-prompt', 'morning report');
    await page.click('#add-schedule button[type=submit]');
    const row = page.locator('#schedule-rows tr', { hasText: 'morning report' });
    await row.waitFor();
    await row.locator('button.danger').click();
    await page.locator('#schedule-rows', { hasText: 'No schedules.' }).waitFor();

    await page.goto(`${serve.url}/#/mcp`);
    await page.locator('#mcp-definitions form').first().waitFor();
    expect(await page.locator('#mcp-definitions form').count()).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
