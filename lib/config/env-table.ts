/** The README's environment table, rendered from the schema so that no variable goes undocumented. */
import { declaredVariables, type SectionName } from './schema.js';

export const ENV_TABLE_START = '<!-- environment table: generated from lib/config/schema.ts by `npm run docs:env` -->';
export const ENV_TABLE_END = '<!-- end of environment table -->';

const SECTION_TITLES: Record<SectionName, string> = {
  local: 'local state',
  model: 'model',
  sandbox: 'sandbox',
  mcp: 'MCP servers',
  approval: 'approvals',
  serve: 'local service (`serve`)',
  api: 'HTTP API clients',
  cli: 'command line',
  awsCredentials: 'AWS credentials',
  aws: 'AWS Lambda (set by the stack, not by you)',
};

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The Markdown table of every declared variable, grouped by section.
 *
 * @example
 * console.log(renderEnvironmentTable());
 */
export function renderEnvironmentTable(): string {
  const rows = declaredVariables().map((v) => {
    const names = [v.name, ...(v.aliases ?? [])].map((n) => `\`${n}\``).join(', ');
    return `| ${names} | ${SECTION_TITLES[v.section]} | ${cell(v.description)}${v.secret ? ' (a secret: redacted wherever it could appear)' : ''} | ${cell(v.default ?? 'none')} |`;
  });
  return ['| variable | section | meaning | default |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/**
 * `readme` with the text between the table's markers replaced by a fresh table.
 *
 * @example
 * writeFileSync('README.md', replaceEnvironmentTable(readFileSync('README.md', 'utf8')));
 */
export function replaceEnvironmentTable(readme: string): string {
  const start = readme.indexOf(ENV_TABLE_START);
  const end = readme.indexOf(ENV_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README has no environment table markers (${ENV_TABLE_START} ... ${ENV_TABLE_END})`);
  return `${readme.slice(0, start + ENV_TABLE_START.length)}\n${renderEnvironmentTable()}\n${readme.slice(end)}`;
}
