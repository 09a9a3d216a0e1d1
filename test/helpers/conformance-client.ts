/**
 * The client command the MCP conformance runner drives (`conformance client --command "node --import tsx
 * test/helpers/conformance-client.ts"`, the scenario server's URL appended). It uses deep-agent as a user
 * would: writes a `.mcp.json` naming the URL, runs `deep-agent mcp login conf` for auth scenarios (with
 * $BROWSER set to a script that follows the auto-approving authorization redirect), then `deep-agent run`
 * with the scripted model calling the scenario's tool as `mcp__conf__<tool>`. Exit 0 when the task
 * succeeded and the tool answered without an error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv, runCli } from './cli.js';
import { lastToolResults, startScriptedModel } from './scripted-model.js';

const serverUrl = process.argv[process.argv.length - 1]!;
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as { client_id?: string; client_secret?: string };
const browser = `${process.execPath} ${fileURLToPath(new URL('./follow-redirect-browser.mjs', import.meta.url))}`;

const work = mkdtempSync(join(tmpdir(), 'deep-agent-conformance-'));
const home = join(work, 'home');
// What a user would write for each kind of server: a pre-registered client (from the environment), a hosted
// Client ID Metadata Document, or nothing at all (the client registers itself).
const oauth =
  context.client_id !== undefined
    ? { clientId: '${CONF_CLIENT_ID}', clientSecret: '${CONF_CLIENT_SECRET}' }
    : scenario === 'auth/basic-cimd'
      ? { clientMetadataUrl: 'https://conformance-test.local/client-metadata.json' }
      : undefined;
writeFileSync(join(work, '.mcp.json'), JSON.stringify({ mcpServers: { conf: { url: serverUrl, ...(oauth ? { oauth } : {}) } } }, null, 2));

const ARGUMENTS: Record<string, unknown> = { add_numbers: { a: 2, b: 3 } };
const model = await startScriptedModel((req) => {
  const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length + 1;
  const tool = (req.body.tools as { name: string }[] | undefined)?.find((t) => t.name.startsWith('mcp__conf__'));
  if (turn === 1 && tool) return { toolUses: [{ name: tool.name, input: ARGUMENTS[tool.name.slice('mcp__conf__'.length)] ?? {} }] };
  return { text: 'done' };
});

const env = baseEnv({
  ANTHROPIC_API_KEY: 'conformance-key',
  ANTHROPIC_BASE_URL: model.url,
  DEEP_AGENT_HOME: home,
  DEEP_AGENT_MCP_CONFIG: join(work, '.mcp.json'),
  BROWSER: browser,
  ...(context.client_id ? { CONF_CLIENT_ID: context.client_id, CONF_CLIENT_SECRET: context.client_secret ?? '' } : {}),
});

let code = 0;
try {
  if (scenario.startsWith('auth/')) {
    const login = await runCli(['mcp', 'login', 'conf'], env, { cwd: work, timeoutMs: 60_000 });
    process.stdout.write(login.stdout);
    process.stderr.write(login.stderr);
    if (login.code !== 0) throw new Error(`mcp login exited ${login.code}`);
  }
  const run = await runCli(['run', '--json', 'call the conformance server tool'], env, { cwd: work, timeoutMs: 60_000 });
  process.stderr.write(run.stderr);
  if (run.code !== 0) throw new Error(`run exited ${run.code}`);
  const results = model.requests.flatMap((r) => [...lastToolResults(r).values()]);
  const failed = results.filter((r) => r.isError);
  if (failed.length) throw new Error(`the tool answered with an error: ${failed.map((r) => r.text).join('; ')}`);
  process.stdout.write(`ok: ${results.length} tool call(s)\n`);
} catch (e) {
  process.stderr.write(`conformance client: ${(e as Error).message}\n`);
  code = 1;
} finally {
  await model.close();
}
process.exit(code);
