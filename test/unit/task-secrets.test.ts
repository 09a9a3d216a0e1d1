/**
 * Task secrets as the wire and the runtimes see them: the body's `secrets` validated (variable names, the
 * host patterns of `network.allow`, caps), the names checked against an account's credentials with one line
 * naming the problem, the values read with the redactor taught, and `submit --secret` parsed the same way.
 * The stores themselves are exercised in the integration tests; here an account's credentials are a map.
 */
import { describe, expect, it } from 'vitest';
import { parseSecrets } from '../../lib/cli/commands/api-commands.js';
import { isRetryable } from '../../lib/errors/index.js';
import { REDACTED, Redactor } from '../../lib/secrets/index.js';
import { checkTaskSecrets, resolveTaskSecrets, SubmitTaskSchema, type AccountCredentials } from '../../lib/task/index.js';

const VALUE = 'value-of-the-token-3f9a1c';

/** Account `acct` holds `one` (one field) and `two` (two fields); `oauth` holds none. */
function accountOf(stored: Record<string, Record<string, unknown>>): AccountCredentials {
  return {
    credentialFields: async (accountId, id) => (accountId === 'acct' && stored[id] ? Object.keys(stored[id]) : undefined),
    credentialValues: async (accountId, id) => (accountId === 'acct' ? stored[id] : undefined),
  };
}
const account = () => accountOf({ one: { TOKEN: VALUE }, two: { USER: 'someone-else', PASS: VALUE }, oauth: {} });

const body = (secrets: unknown) => SubmitTaskSchema.safeParse({ prompt: 'p', secrets });
const firstIssue = (secrets: unknown) => {
  const r = body(secrets);
  return r.success ? undefined : `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`;
};

describe('the secrets of POST /tasks', () => {
  it('takes env, connection, optional field and header, and hosts as network.allow takes them (lowercased)', () => {
    const r = body([{ env: 'GITHUB_TOKEN', connection: 'mcpc_0123', hosts: ['GitHub.com', '*.githubusercontent.com', 'api.github.com:443'], header: 'X-Token' }]);
    expect(r.success && r.data.secrets).toEqual([{ env: 'GITHUB_TOKEN', connection: 'mcpc_0123', hosts: ['github.com', '*.githubusercontent.com', 'api.github.com:443'], header: 'X-Token' }]);
  });

  it('refuses, naming the field: a bad or reserved variable, no or too broad hosts, a value, a repeated variable, too many', () => {
    const ok = { env: 'T', connection: 'c', hosts: ['h.example.org'] };
    expect(firstIssue([{ ...ok, env: '1BAD' }])).toMatch(/^secrets\.0\.env: must be an environment variable name/);
    expect(firstIssue([{ ...ok, env: 'PATH' }])).toMatch(/^secrets\.0\.env: is set by the sandbox itself/);
    expect(firstIssue([{ ...ok, env: 'https_proxy' }])).toMatch(/is set by the sandbox itself/);
    expect(firstIssue([{ ...ok, hosts: [] }])).toMatch(/^secrets\.0\.hosts: list at least one host/);
    expect(firstIssue([{ ...ok, hosts: ['*'] }])).toMatch(/^secrets\.0\.hosts\.0: must be a host/);
    expect(firstIssue([{ ...ok, hosts: ['*.com'] }])).toMatch(/too broad/);
    expect(firstIssue([{ ...ok, connection: '../x' }])).toMatch(/^secrets\.0\.connection: must be a connection id/);
    expect(firstIssue([{ ...ok, value: VALUE }])).toMatch(/^secrets\.0: .*value/i);
    expect(firstIssue([ok, { ...ok }])).toBe('secrets.1.env: T is named twice');
    expect(firstIssue(Array.from({ length: 17 }, (_, i) => ({ ...ok, env: `T${i}` })))).toMatch(/^secrets: /);
    expect(firstIssue([{ ...ok, hosts: Array.from({ length: 21 }, (_, i) => `h${i}.example.org`) }])).toMatch(/^secrets\.0\.hosts: /);
  });
});

describe('checking a task secret against the account at submit', () => {
  const check = (secret: Record<string, unknown>, accountId = 'acct') =>
    checkTaskSecrets(accountId, [{ env: 'T', connection: 'one', hosts: ['h.example.org'], ...secret } as never], account());

  it('passes a held credential: the one field, or the field named', async () => {
    await expect(check({})).resolves.toBeUndefined();
    await expect(check({ connection: 'two', field: 'PASS' })).resolves.toBeUndefined();
  });

  it('refuses with invalid_input naming the secret: unknown, another account, no field named among two, no such field, no stored credential', async () => {
    await expect(check({ connection: 'gone' })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/secrets\.0 \(T\): this account has no MCP connection gone/) });
    await expect(check({}, 'other')).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('this account has no MCP connection one') });
    await expect(check({ connection: 'two' })).rejects.toMatchObject({ message: expect.stringContaining('holds USER, PASS: name one with "field"') });
    await expect(check({ field: 'NOPE' })).rejects.toMatchObject({ message: expect.stringContaining('has no credential field NOPE; it has TOKEN') });
    await expect(check({ connection: 'oauth' })).rejects.toMatchObject({ message: expect.stringContaining('holds no stored credential') });
  });

  it('refuses any secret where the runtime holds no account credentials', async () => {
    await expect(checkTaskSecrets('acct', [{ env: 'T', connection: 'one', hosts: ['h.example.org'] }], undefined)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(checkTaskSecrets('acct', [], undefined)).resolves.toBeUndefined();
  });
});

describe('reading task secrets when the run starts', () => {
  it("gives the sandbox the account's value under the task's name and hosts, and teaches it to the redactor", async () => {
    const redactor = new Redactor();
    const resolved = await resolveTaskSecrets(
      { accountId: 'acct', secrets: [{ env: 'GH', connection: 'two', field: 'PASS', hosts: ['github.com'], header: 'X-Token' }] },
      account(),
      redactor,
    );
    expect(resolved).toEqual([{ name: 'GH', value: VALUE, hosts: ['github.com'], header: 'X-Token' }]);
    expect(redactor.redactString(`it is ${VALUE}`)).toBe(`it is ${REDACTED}`);
  });

  it('fails non-retryably, naming no value, when the credential went away or is too short to redact', async () => {
    const gone = resolveTaskSecrets({ accountId: 'acct', secrets: [{ env: 'T', connection: 'gone', hosts: ['h.example.org'] }] }, account());
    const short = resolveTaskSecrets({ accountId: 'acct', secrets: [{ env: 'T', connection: 'one', hosts: ['h.example.org'] }] }, accountOf({ one: { TOKEN: 'tiny-1' } }));
    const emptied = resolveTaskSecrets({ accountId: 'acct', secrets: [{ env: 'T', connection: 'one', hosts: ['h.example.org'] }] }, accountOf({ one: { TOKEN: 42 } }));
    for (const p of [gone, short, emptied]) {
      const e = await p.catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(/^task secret secrets\.0 \(T\): /) });
      expect(isRetryable(e)).toBe(false);
      expect(`${(e as Error).message} ${JSON.stringify(e)}`).not.toMatch(/tiny-1|3f9a1c/);
    }
  });
});

describe('deep-agent submit --secret', () => {
  it('parses VAR=CONNECTION[/FIELD]=HOSTS, repeatable', () => {
    expect(parseSecrets(['GITHUB_TOKEN=mcpc_1=github.com, api.github.com', 'T=mcpc_2/PASS=h.example.org'])).toEqual([
      { env: 'GITHUB_TOKEN', connection: 'mcpc_1', hosts: ['github.com', 'api.github.com'] },
      { env: 'T', connection: 'mcpc_2', field: 'PASS', hosts: ['h.example.org'] },
    ]);
    expect(parseSecrets(undefined)).toBeUndefined();
  });

  it('refuses a malformed one in one line', () => {
    expect(() => parseSecrets(['GITHUB_TOKEN=github.com'])).toThrow(/^--secret takes VAR=CONNECTION\[\/FIELD\]=HOST,HOST/);
    expect(() => parseSecrets(['PATH=mcpc_1=h.example.org'])).toThrow(/^--secret PATH=mcpc_1=h\.example\.org: env is set by the sandbox itself/);
    expect(() => parseSecrets(['T=mcpc_1=*'])).toThrow(/hosts\.0 must be a host/);
  });
});
