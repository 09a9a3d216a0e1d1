/**
 * `deep-agent doctor`: what this machine can do, one line a check. Key values are never printed, only whether a
 * variable is set. Exit 1 when something `run` needs is missing (Node, the chosen sandbox, model credentials).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../../config/index.js';
import { isSupportedNode, SUPPORTED_NODE } from '../node-version.js';
import { VERSION } from '../version.js';
import type { CliIo, Command } from '../io.js';

type Level = 'ok' | 'warn' | 'fail' | 'info';
interface Check {
  level: Level;
  name: string;
  detail: string;
}

/** How long the API reachability request may take: doctor answers in seconds, online or not. */
const REACH_TIMEOUT_MS = 3_000;

function nodeCheck(version: string): Check {
  const ok = isSupportedNode(version);
  return { level: ok ? 'ok' : 'fail', name: 'node', detail: `${version}${ok ? '' : ` (needs ${SUPPORTED_NODE}: node:sqlite)`}` };
}

/** Runs a trivial command in a fresh bubblewrap namespace, as the local sandbox does. */
function bubblewrapCheck(selected: boolean, env: CliIo['env']): Promise<Check> {
  return new Promise((resolve) => {
    const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-all', '--die-with-parent', 'true'];
    const child = spawn('bwrap', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: env.PATH ?? '/usr/bin:/bin' }, timeout: 5_000 });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const missing = selected ? 'fail' : 'info';
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ level: missing, name: 'bubblewrap', detail: e.code === 'ENOENT' ? 'not installed (apt-get install bubblewrap), needed by DEEP_AGENT_SANDBOX=local' : e.message }),
    );
    child.on('close', (code) =>
      resolve(
        code === 0
          ? { level: 'ok', name: 'bubblewrap', detail: 'installed and works (user, pid, net and mount namespaces)' }
          : { level: missing, name: 'bubblewrap', detail: `installed but cannot create a sandbox: ${stderr.trim().split('\n')[0] ?? `exit ${code}`}` },
      ),
    );
  });
}

function sandboxCheck(config: Config): Check {
  const detail = { local: 'local (bubblewrap)', e2b: 'e2b (cloud sandboxes)', 'unsafe-local': 'unsafe-local (commands run unisolated on this machine)' }[config.sandbox.provider];
  if (config.sandbox.provider === 'e2b' && !config.sandbox.e2bApiKey) return { level: 'fail', name: 'sandbox', detail: `${detail}, but E2B_API_KEY is not set` };
  return { level: config.sandbox.provider === 'unsafe-local' ? 'warn' : 'ok', name: 'sandbox', detail };
}

const isSet = (value: string | undefined) => (value ? 'set' : 'not set');

function keyChecks(config: Config): Check[] {
  const anthropic = Boolean(config.model.anthropicApiKey || config.model.anthropicAuthToken);
  const needsAnthropic = config.model.provider === 'anthropic';
  return [
    {
      level: anthropic ? 'ok' : needsAnthropic ? 'fail' : 'info',
      name: 'ANTHROPIC_API_KEY',
      detail: `${isSet(config.model.anthropicApiKey)}${config.model.anthropicAuthToken ? ' (ANTHROPIC_AUTH_TOKEN set)' : ''}${needsAnthropic ? '' : ' (provider is bedrock)'}`,
    },
    { level: config.sandbox.e2bApiKey ? 'ok' : 'info', name: 'E2B_API_KEY', detail: `${isSet(config.sandbox.e2bApiKey)} (E2B cloud sandboxes; required to deploy to AWS)` },
    { level: 'info', name: 'GITHUB_TOKEN', detail: `${isSet(config.mcp.githubToken)} (the GitHub MCP preset)` },
    { level: 'info', name: 'NOTION_TOKEN', detail: `${isSet(config.mcp.notionToken)} (the Notion MCP preset)` },
    { level: 'info', name: 'model', detail: `${config.model.id} via ${config.model.provider}` },
  ];
}

/** Where the AWS SDK would find credentials; names only, nothing is read from the files. */
function awsCheck(config: Config, home: string): Check {
  const aws = config.awsCredentials;
  const sources = [
    aws.accessKeyId && aws.secretAccessKey ? 'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY' : '',
    aws.profile ? `AWS_PROFILE=${aws.profile}` : '',
    aws.webIdentityTokenFile ? 'AWS_WEB_IDENTITY_TOKEN_FILE' : '',
    existsSync(join(home, '.aws', 'credentials')) ? '~/.aws/credentials' : '',
    existsSync(join(home, '.aws', 'config')) ? '~/.aws/config' : '',
  ].filter(Boolean);
  const needed = config.model.provider === 'bedrock';
  return {
    level: sources.length ? 'ok' : needed ? 'fail' : 'info',
    name: 'aws credentials',
    detail: sources.length ? `found: ${sources.join(', ')} (not verified)` : `none found${needed ? ' (the bedrock provider needs them)' : ' (needed only for Bedrock and cdk deploy)'}`,
  };
}

/** One cheap request (GET /v1/models) with a short timeout: any HTTP answer means the API is reachable. */
async function reachCheck(config: Config): Promise<Check> {
  if (config.model.provider !== 'anthropic') return { level: 'info', name: 'anthropic api', detail: 'not checked (provider is bedrock)' };
  const base = (config.model.anthropicBaseUrl ?? 'https://api.anthropic.com').replace(/\/+$/, '');
  const headers: Record<string, string> = { 'anthropic-version': '2023-06-01' };
  if (config.model.anthropicApiKey) headers['x-api-key'] = config.model.anthropicApiKey;
  else if (config.model.anthropicAuthToken) headers.authorization = `Bearer ${config.model.anthropicAuthToken}`;
  try {
    const res = await fetch(`${base}/v1/models`, { headers, signal: AbortSignal.timeout(REACH_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.ok) return { level: 'ok', name: 'anthropic api', detail: `${base} reachable, key accepted` };
    const why = res.status === 401 || res.status === 403 ? 'the key was rejected' : `HTTP ${res.status}`;
    return { level: 'warn', name: 'anthropic api', detail: `${base} reachable, but ${why}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${REACH_TIMEOUT_MS / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
    return { level: 'warn', name: 'anthropic api', detail: `${base} unreachable (${why})` };
  }
}

/** The cgroup controllers the host offers for memory and process limits: information, nothing here needs them. */
function limitsCheck(): Check {
  const v2 = (dir: string) => {
    try {
      return readFileSync(join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      return undefined;
    }
  };
  const has = (list: string[], c: string) => `${c} ${list.includes(c) ? 'yes' : 'no'}`;
  const always = 'timeouts and output caps always apply';
  const unified = v2('/sys/fs/cgroup');
  if (unified) return { level: 'info', name: 'host limits', detail: `cgroup v2: ${has(unified, 'memory')}, ${has(unified, 'pids')}; ${always}` };
  const v1 = ['memory', 'pids'].filter((c) => existsSync(`/sys/fs/cgroup/${c}`));
  if (v1.length) return { level: 'info', name: 'host limits', detail: `cgroup v1 only (${v1.join(', ')}), no v2 controllers; ${always}` };
  return { level: 'info', name: 'host limits', detail: `no cgroups visible; ${always}` };
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check this machine: Node, sandbox, keys, API reachability, host limits',
  usage: `deep-agent doctor [--json]

Checks Node, bubblewrap, the sandbox and model settings, which keys are set (names only, never values), whether
the Anthropic API answers (one GET /v1/models, ${REACH_TIMEOUT_MS / 1000} s timeout), AWS credentials, and the host's
cgroup v2 controllers. Exit 1 when something deep-agent run needs is missing.`,
  async run(args, io) {
    const { values } = parseArgs({ args, allowPositionals: false, options: { json: { type: 'boolean' } } });
    let config: Config;
    const checks: Check[] = [{ level: 'info', name: 'deep-agent', detail: VERSION }, nodeCheck(process.versions.node)];
    try {
      config = loadConfig(io.env, io.cwd);
    } catch (e) {
      checks.push({ level: 'fail', name: 'configuration', detail: (e as Error).message });
      return report(checks, io, values.json === true);
    }
    const [bwrap, reach] = await Promise.all([bubblewrapCheck(config.sandbox.provider === 'local', io.env), reachCheck(config)]);
    checks.push(sandboxCheck(config), bwrap, ...keyChecks(config), reach, awsCheck(config, io.env.HOME ?? homedir()), limitsCheck());
    return report(checks, io, values.json === true);
  },
};

function report(checks: Check[], io: CliIo, json: boolean): number {
  const failed = checks.some((c) => c.level === 'fail');
  if (json) io.stdout.write(`${JSON.stringify({ ok: !failed, checks }, null, 2)}\n`);
  else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) io.stdout.write(`${c.level.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}\n`);
    io.stdout.write(failed ? 'Something deep-agent run needs is missing (fail above).\n' : 'Ready to run tasks.\n');
  }
  return failed ? 1 : 0;
}
