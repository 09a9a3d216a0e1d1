import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { baseEnv, runCli } from '../helpers/cli.js';
import { firstUserText, startScriptedModel, type ScriptedModelServer } from '../helpers/scripted-model.js';

let server: ScriptedModelServer | undefined;
afterEach(async () => server?.close());

describe('deep-agent chat', () => {
  it('answers each message, carries the conversation and the sandbox over, and quits on exit', async () => {
    server = await startScriptedModel((req) => {
      const prompt = firstUserText(req);
      const turn = req.body.messages.filter((m: { role: string }) => m.role === 'assistant').length;
      if (prompt.endsWith('remember 42')) return turn === 0 ? { toolUses: [{ name: 'write_file', input: { path: 'n.txt', content: '42' } }] } : { text: 'noted' };
      return turn === 0 ? { toolUses: [{ name: 'read_file', input: { path: 'n.txt' } }] } : { text: 'the number was 42' };
    });
    const home = mkdtempSync(join(tmpdir(), 'deep-agent-chat-'));

    const r = await runCli(['chat'], baseEnv({ ANTHROPIC_API_KEY: 'sk-ant-test-chat-000000', ANTHROPIC_BASE_URL: server.url, DEEP_AGENT_HOME: home }), {
      input: 'remember 42\nwhat was it?\nexit\n',
    });

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('agent> noted');
    expect(r.stdout).toContain('agent> the number was 42');
    const second = server.requests.find((q) => firstUserText(q).includes('what was it?'))!;
    expect(firstUserText(second)).toContain('User: remember 42');
    // The second task read the file the first one wrote: one sandbox for the session.
    const readResult = server.requests.at(-1)!.body.messages.at(-1).content[0];
    expect(JSON.stringify(readResult)).toContain('42');
    expect(JSON.stringify(readResult)).not.toContain('is_error":true');
  });
});
