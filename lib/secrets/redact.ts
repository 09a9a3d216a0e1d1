/**
 * Redaction: secrets never reach logs, events, errors or stored objects in plain text.
 *
 * Two nets: the exact values of known secrets (every configured token), and token shapes (Anthropic, GitHub,
 * E2B, Notion, AWS access keys, bearer headers) for secrets we were never told about.
 */

const TOKEN_SHAPES: RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{8,}/g,
  /gh[pousr]_[A-Za-z0-9]{20,}/g,
  /github_pat_[A-Za-z0-9_]{20,}/g,
  /e2b_[A-Za-z0-9]{16,}/g,
  /(?:secret|ntn)_[A-Za-z0-9]{20,}/g,
  /AKIA[0-9A-Z]{16}/g,
  /(?<=[Bb]earer\s)[A-Za-z0-9._~+/=-]{12,}/g,
];

export const REDACTED = '[REDACTED]';

export class Redactor {
  private values: string[] = [];

  constructor(secretValues: Iterable<string | undefined> = []) {
    for (const v of secretValues) this.add(v);
  }

  /** Registers a secret value; values shorter than 8 characters are ignored to avoid mangling ordinary text. */
  add(value: string | undefined): void {
    if (value && value.length >= 8 && !this.values.includes(value)) {
      this.values.push(value);
      this.values.sort((a, b) => b.length - a.length);
    }
  }

  redactString(s: string): string {
    let out = s;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(REDACTED);
    for (const re of TOKEN_SHAPES) out = out.replace(re, REDACTED);
    return out;
  }

  /** Deep-redacts strings in any JSON-like value (returns a copy). */
  redact<T>(value: T): T {
    if (typeof value === 'string') return this.redactString(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.redact(v)) as T;
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redact(v);
      return out as T;
    }
    return value;
  }
}

/** Environment variable names whose values are secrets. */
export const SECRET_ENV_NAMES = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'E2B_API_KEY',
  'GITHUB_TOKEN',
  'NOTION_TOKEN',
  'DEEP_AGENT_API_TOKEN',
  'DEEP_AGENT_SECRET_KEY',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
] as const;

/** A redactor that knows every secret in `env`. */
export const redactorFromEnv = (env: Record<string, string | undefined>): Redactor =>
  new Redactor(SECRET_ENV_NAMES.map((n) => env[n]));
