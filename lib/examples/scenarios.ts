/** The seed's scenario library as real prompts: each one runs as an ordinary task (`deep-agent examples <name>`). */

/** A token a scenario cannot run without, and what it unlocks. */
export interface ScenarioRequirement {
  variable: 'GITHUB_TOKEN' | 'NOTION_TOKEN';
  unlocks: string;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  prompt: string;
  /** Tokens it needs; when one is missing the scenario is skipped, not failed. */
  requires: ScenarioRequirement[];
  /** MCP servers the task may use. @default every attached server */
  mcpServers?: string[];
}

export const SCENARIO_NAMES = ['github', 'notion', 'sync', 'code', 'data', 'package', 'workflow', 'mcp-builder'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const GITHUB: ScenarioRequirement = { variable: 'GITHUB_TOKEN', unlocks: 'the GitHub MCP server' };
const NOTION: ScenarioRequirement = { variable: 'NOTION_TOKEN', unlocks: 'the Notion MCP server' };

const lines = (...l: string[]) => l.join('\n');

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'github',
    title: 'Repository intelligence',
    requires: [GITHUB],
    mcpServers: ['github'],
    prompt: lines(
      'Repository intelligence, read-only: do not change anything on GitHub.',
      'Using the GitHub MCP tools (mcp__github__*):',
      '1. Find the authenticated user and their five most recently updated repositories.',
      '2. For each repository report: primary language, stars, open issues, open pull requests, the date of the last commit on the default branch, and the three oldest open issues (number, title, URL).',
      '3. Write reports/github-intelligence.md in the workspace: one Markdown table of the five repositories, then a "Needs attention" list with pull requests open for more than 30 days and issues without labels.',
      'Finish with a five-line summary of the report.',
    ),
  },
  {
    name: 'notion',
    title: 'Workspace organisation',
    requires: [NOTION],
    mcpServers: ['notion'],
    prompt: lines(
      'Workspace organisation in Notion. Do not delete, move or rename existing pages.',
      'Using the Notion MCP tools (mcp__notion__*):',
      '1. Search every page and database shared with the integration; record title, type (page or database), parent and last edited time.',
      '2. Create one new page titled "Workspace index (deep-agent)" under the top-most shared page. In it, list every page as a link, grouped by parent, and add a section "Possibly stale" with the pages not edited for 90 days or more.',
      '3. Save the inventory as notion-inventory.json in the workspace.',
      'Finish with the number of pages and databases found and the URL of the index page.',
    ),
  },
  {
    name: 'sync',
    title: 'GitHub -> Notion sync',
    requires: [GITHUB, NOTION],
    mcpServers: ['github', 'notion'],
    prompt: lines(
      'Sync GitHub issues into Notion. Read-only on GitHub.',
      '1. With the GitHub MCP tools, take the authenticated user\'s most recently updated repository and read its open issues (number, title, labels, assignee, URL, updated at). Pull requests are not issues: skip them.',
      '2. With the Notion MCP tools, find the database "GitHub issues (deep-agent sync)" among the shared pages, or create it under the first shared page with the properties Title (title), Number (number), Repository (text), Labels (multi-select), Assignee (text), URL (url), Updated (date).',
      '3. Upsert one row per issue, keyed by Repository + Number: create missing rows, update changed ones, leave unchanged ones alone, so that running this twice creates no duplicates.',
      'Finish with how many rows were created, updated and left unchanged, and the database URL.',
    ),
  },
  {
    name: 'code',
    title: 'Arbitrary code execution',
    requires: [],
    prompt: lines(
      'Run code in the sandbox and check its output.',
      '1. Write primes.py: print the first 20 prime numbers, one line, space-separated, computed with a sieve of Eratosthenes.',
      '2. Write fib.js: print the first 15 Fibonacci numbers starting 0, 1, one line, space-separated, using BigInt.',
      '3. Run both with run_command (python3 primes.py; node fib.js) and check the results: the 20th prime is 71 and the 15th Fibonacci number is 377. Fix and rerun if not.',
      '4. Call sandbox_info.',
      'Finish with both outputs and which sandbox provider ran them.',
    ),
  },
  {
    name: 'data',
    title: 'Data-processing pipeline',
    requires: [],
    prompt: lines(
      'Build and run a small data pipeline in the sandbox with Python\'s standard library only (no network, no installs).',
      '1. Write generate.py: with random.seed(42), write data/sales.csv with 500 rows: date (a day in 2025), region (North, South, East, West), product (one of Widget, Gadget, Gizmo, Doohickey, Sprocket), units (1-20), unit_price (5.00-200.00). Make 10 of the rows invalid on purpose (a negative units value or an empty region).',
      '2. Write pipeline.py: read the CSV, drop and count invalid rows, compute revenue (units x unit_price) per region and per month, and the top 3 products by revenue; write out/summary.json and out/report.md (Markdown tables).',
      '3. Run both and print out/report.md.',
      'Finish with the three most useful findings and the number of rows dropped.',
    ),
  },
  {
    name: 'package',
    title: 'pip install + usage',
    requires: [],
    prompt: lines(
      'Install Python packages in the sandbox and use them.',
      '1. Install requests and rich with install_packages (manager pip).',
      '2. Write check_packages.py: print the installed versions of both with importlib.metadata, then use rich to print a table of the five largest files under /usr/lib/python3* (path, size in KB), largest first.',
      '3. Run it.',
      'Finish with the two versions and the table.',
    ),
  },
  {
    name: 'workflow',
    title: 'Complex multi-step automation',
    requires: [],
    prompt: lines(
      'A multi-step automation. Start by writing the plan with write_todos and keep it up to date as you go.',
      '1. Create a Python package textstats/ with word_count(text), top_words(text, n) (case-insensitive, ignoring punctuation) and reading_time(text, words_per_minute=200) in minutes, rounded up.',
      '2. Write tests/test_textstats.py with unittest and run them with python3 -m unittest; fix until they pass.',
      '3. Use the task tool to have a sub-agent write README.md for the package from its source.',
      '4. Write sample.txt (at least 300 words) and stats.py, a command-line script that prints the three statistics of a file as JSON; run it on sample.txt.',
      '5. Pack textstats/, tests/, README.md and stats.py into dist/textstats.tar.gz and list its contents.',
      'Finish with what was produced, where, and the JSON printed in step 4.',
    ),
  },
  {
    name: 'mcp-builder',
    title: 'Build a JSONPlaceholder MCP server',
    requires: [],
    prompt: lines(
      'Build an MCP server for the JSONPlaceholder API (https://jsonplaceholder.typicode.com), test it, and deploy it so later tasks can use it.',
      '1. scaffold_mcp_server with name "jsonplaceholder".',
      '2. add_mcp_tool_to_server, three tools, each throwing an Error with the HTTP status on a non-2xx answer:',
      '   - get_posts { limit?: integer, default 10 }: GET /posts, return the first `limit` posts as { posts: [{ id, userId, title }] }.',
      '   - get_post { id: integer }: GET /posts/{id} and GET /posts/{id}/comments, return the post with a commentCount.',
      '   - get_user { id: integer }: GET /users/{id}, return { id, name, username, email, company: company.name }.',
      '3. test_mcp_server with network: true, calling get_posts { limit: 3 }, get_post { id: 1 }, get_user { id: 1 } and get_post { id: 0 }, which must fail cleanly. Fix and retest until the first three succeed.',
      '4. deploy_mcp_server with network: true, then call mcp__jsonplaceholder__get_user { id: 2 } to check the deployed server.',
      'Finish with the tool list, the answer of step 4, and the .mcp.json entry that deploy printed.',
    ),
  },
];

/**
 * Scenarios by name; `all` gives every one. Undefined for an unknown name.
 *
 * @example
 * selectScenarios('all')!.map((s) => s.name); // ['github', 'notion', ..., 'mcp-builder']
 */
export function selectScenarios(name: string): Scenario[] | undefined {
  if (name === 'all') return [...SCENARIOS];
  const found = SCENARIOS.find((s) => s.name === name);
  return found ? [found] : undefined;
}

/**
 * The variables a scenario needs that `isSet` says are missing (an empty list when it can run).
 *
 * @example
 * missingRequirements(selectScenarios('sync')![0]!, (v) => v === 'GITHUB_TOKEN'); // [{ variable: 'NOTION_TOKEN', ... }]
 */
export function missingRequirements(scenario: Scenario, isSet: (variable: ScenarioRequirement['variable']) => boolean): ScenarioRequirement[] {
  return scenario.requires.filter((r) => !isSet(r.variable));
}
