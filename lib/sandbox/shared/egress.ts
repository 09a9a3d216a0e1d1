/**
 * Egress allowlists, the same for every provider: a command's `network` (`true` or host patterns) bounded by
 * its task's `network.allow`. Patterns are the sandbox-runtime's (`pkg.example.org`, `*.cdn.example.org`,
 * `api.example.com:443`, `127.0.0.1:8080`, `[::1]:80`); `*` and public suffixes such as `*.com` are refused.
 */
import { randomBytes } from 'node:crypto';
import {
  isValidAllowedDomainEntry,
  matchesDomainPattern,
  splitDomainPatternPort,
} from '@anthropic-ai/sandbox-runtime/dist/sandbox/domain-pattern.js';
import type { Config } from '../../config/index.js';
import { DeepAgentError } from '../../errors/index.js';

/** What a command asks for: nothing, the network (bounded by the task), or these hosts only. */
export type NetworkRequest = boolean | readonly string[];

/** A task's bound on every command's network; absent, `network: true` is any public host. */
export interface TaskNetwork {
  allow: readonly string[];
}

/**
 * What a command gets: no network, any public host, or only these hosts. Both kinds with a network go through
 * the same guard: loopback, link-local, cloud metadata, private ranges and the host's own addresses are refused
 * unless listed literally (which only `allowlist` can do).
 */
export type Egress = { kind: 'none' } | { kind: 'public' } | { kind: 'allowlist'; allow: string[] };

/**
 * Checks host patterns and returns them trimmed and lower-cased; throws `invalid_input` naming the first bad one.
 *
 * @example
 * hostPatterns(['pkg.example.org', '*.cdn.example.org', 'api.example.com:443']);
 */
export function hostPatterns(patterns: readonly string[], where = 'network'): string[] {
  return patterns.map((raw) => {
    const p = String(raw).trim().toLowerCase();
    if (!isValidAllowedDomainEntry(p)) {
      throw new DeepAgentError(
        'invalid_input',
        `${where}: ${JSON.stringify(raw)} is not a host pattern (a host such as "pkg.example.org", "*.cdn.example.org", "api.example.com:443" or "127.0.0.1:8080"; "*" and "*.com" are too broad)`,
      );
    }
    return p;
  });
}

/** The host part of a pattern, without port or IPv6 brackets (`api.example.com:443` -> `api.example.com`). */
export function hostOfPattern(pattern: string): string {
  return splitDomainPatternPort(pattern).hostPattern;
}

/** True when `pattern` (with its port, if any) permits `host:port`. */
export function allowsHost(pattern: string, host: string, port: number): boolean {
  const { hostPattern, port: only } = splitDomainPatternPort(pattern);
  return (only === undefined || only === port) && matchesDomainPattern(host.toLowerCase().replace(/^\[|\]$/g, ''), hostPattern);
}

/** The part of `wanted` that `bound` covers, or undefined when none of it is (e.g. `a.example.org` under `*.example.org`). */
function within(wanted: string, bound: string): string | undefined {
  const w = splitDomainPatternPort(wanted);
  const b = splitDomainPatternPort(bound);
  if (w.port !== undefined && b.port !== undefined && w.port !== b.port) return undefined;
  const hostCovered = w.hostPattern.startsWith('*.')
    ? b.hostPattern.startsWith('*.') && (w.hostPattern === b.hostPattern || w.hostPattern.endsWith(b.hostPattern.slice(1)))
    : matchesDomainPattern(w.hostPattern, b.hostPattern);
  if (!hostCovered) return undefined;
  const port = w.port ?? b.port;
  if (port === undefined) return wanted;
  const host = w.hostPattern.includes(':') ? `[${w.hostPattern}]` : w.hostPattern;
  return `${host}:${port}`;
}

/**
 * What one command gets: its own request bounded by the task's allowlist. `true` under a task allowlist is
 * that allowlist; a host the task does not allow is refused (`network_disabled`), never silently widened.
 *
 * @example
 * egressFor(['127.0.0.1:8080'], undefined); // { kind: 'allowlist', allow: ['127.0.0.1:8080'] }
 * egressFor(true, { allow: ['pkg.example.org'] }); // { kind: 'allowlist', allow: ['pkg.example.org'] }
 */
export function egressFor(request: NetworkRequest | undefined, task: TaskNetwork | undefined): Egress {
  if (request === undefined || request === false) return { kind: 'none' };
  const bound = task ? hostPatterns(task.allow, 'the task network.allow') : undefined;
  if (request === true) {
    if (!bound) return { kind: 'public' };
    return bound.length ? { kind: 'allowlist', allow: bound } : refuse('this task allows no network');
  }
  const wanted = hostPatterns(request);
  if (wanted.length === 0) return { kind: 'none' };
  if (!bound) return { kind: 'allowlist', allow: wanted };
  const allow: string[] = [];
  for (const w of wanted) {
    const covered = bound.map((b) => within(w, b)).find((x) => x !== undefined);
    if (!covered) refuse(`${w} is outside this task's network allowlist (${bound.join(', ') || 'empty'})`);
    allow.push(covered!);
  }
  return { kind: 'allowlist', allow };
}

function refuse(message: string): never {
  throw new DeepAgentError('network_disabled', message);
}

/**
 * Parses `DEEP_AGENT_NETWORK_ALLOW`-style text (comma or space separated) into checked patterns.
 *
 * @example
 * parseAllowList('pkg.example.org, *.cdn.example.org'); // ['pkg.example.org', '*.cdn.example.org']
 */
export function parseAllowList(text: string, where = 'DEEP_AGENT_NETWORK_ALLOW'): string[] {
  return hostPatterns(text.split(/[\s,]+/).filter(Boolean), where);
}

/**
 * A credential the sandbox can use but never read (`DEEP_AGENT_SANDBOX_SECRETS`): `header`, when given, is the
 * header E2B injects it as (else `Authorization: Bearer <value>`); locally the sentinel is substituted wherever it
 * appears in a request to `hosts`.
 */
export interface MaskedCredentialSpec {
  name: string;
  value: string;
  hosts: string[];
  header?: string;
}

/**
 * `DEEP_AGENT_SANDBOX_SECRETS` with each variable's value from the configuration's environment; throws
 * `missing_config` naming a variable that is not set.
 *
 * @example
 * maskedCredentialsFrom(loadConfig({ DEEP_AGENT_SANDBOX_SECRETS: 'GITHUB_TOKEN=github.com', GITHUB_TOKEN: 'ghp_x' }));
 */
export function maskedCredentialsFrom(config: Config): MaskedCredentialSpec[] {
  return (config.sandbox.secrets ?? []).map(({ name, hosts, header }) => {
    const value = config.env[name];
    if (!value) throw new DeepAgentError('missing_config', `DEEP_AGENT_SANDBOX_SECRETS names ${name}, which is not set: set it, or leave it out of the list.`);
    return { name, value, hosts, ...(header ? { header } : {}) };
  });
}

/** Throws `invalid_input` unless a masked credential names an environment variable and host patterns. */
export function checkMaskedCredential(c: { name: string; hosts: readonly string[] }, where = 'masked credential'): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(c.name)) throw new DeepAgentError('invalid_input', `${where}: ${JSON.stringify(c.name)} is not an environment variable name`);
  return hostPatterns(c.hosts, `${where} (${c.name})`);
}

/** The value a masked variable holds inside a sandbox: names the variable, unguessable, never the value. */
export function maskedSentinel(name: string): string {
  return `deep-agent-masked-${name.toLowerCase()}-${randomBytes(12).toString('hex')}`;
}

/** Per-host header injections (E2B network `rules`): one rule per host, the headers of every credential for it. */
export type HeaderRules = Record<string, { transform: { headers: Record<string, string> } }[]>;

/**
 * The E2B network rules that inject each credential on HTTPS requests to its hosts (ports dropped: E2B keys
 * rules by name only).
 *
 * @example
 * headerRulesFor([{ name: 'T', value: 'v', hosts: ['api.github.com'] }]);
 * // { 'api.github.com': [{ transform: { headers: { Authorization: 'Bearer v' } } }] }
 */
export function headerRulesFor(credentials: readonly MaskedCredentialSpec[]): HeaderRules {
  const rules: HeaderRules = {};
  for (const c of credentials) {
    for (const host of c.hosts.map(hostOfPattern)) {
      const rule = (rules[host] ??= [{ transform: { headers: {} } }]);
      rule[0]!.transform.headers[c.header ?? 'Authorization'] = c.header ? c.value : `Bearer ${c.value}`;
    }
  }
  return rules;
}
