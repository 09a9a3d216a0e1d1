/** `deep-agent init`: writes `.env.example` and a `.mcp.json` skeleton into the current directory, never over a file. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../io.js';

/** Every variable a local user is likely to set, each with what it unlocks; values left empty on purpose. */
const ENV_EXAMPLE = `# deep-agent settings. Copy to .env (never commit .env) and fill in what you use.

# Claude: an Anthropic API key (or DEEP_AGENT_MODEL_PROVIDER=bedrock with AWS credentials).
ANTHROPIC_API_KEY=
# ANTHROPIC_BASE_URL=
# DEEP_AGENT_MODEL=
# DEEP_AGENT_MODEL_PROVIDER=anthropic

# Sandbox: local (bubblewrap), e2b, or unsafe-local (no isolation). Default e2b when E2B_API_KEY is set, else local.
# DEEP_AGENT_SANDBOX=local
# E2B_API_KEY=

# MCP presets: each attaches only when its token is set.
# GITHUB_TOKEN=
# NOTION_TOKEN=

# Tool calls that wait for a person: destructive (MCP tools that are not read-only) and/or a list of names or globs.
# DEEP_AGENT_APPROVAL=destructive
# DEEP_AGENT_APPROVE_TOOLS=

# Local state (SQLite database, workspaces, task logs).
# DEEP_AGENT_HOME=.deep-agent
`;

/** No server, so nothing starts until one is added: `{ "name": { "command", "args" } }` or `{ "name": { "url" } }`. */
const MCP_JSON = `${JSON.stringify({ mcpServers: {} }, null, 2)}\n`;

export const initCommand: Command = {
  name: 'init',
  summary: 'write .env.example and a .mcp.json skeleton here (never overwrites)',
  usage: `deep-agent init

Writes .env.example (every setting, values empty) and .mcp.json (no servers yet; add entries as
{ "name": { "command": "npx", "args": [...] } } or { "name": { "url": "https://..." } }) into the current
directory. A file that already exists is left as it is.`,
  async run(args, io) {
    parseArgs({ args, allowPositionals: false, options: {} });
    for (const [file, content] of [['.env.example', ENV_EXAMPLE], ['.mcp.json', MCP_JSON]] as const) {
      const path = join(io.cwd, file);
      try {
        // 'wx' fails when the file exists: the check and the write are one step, so nothing is ever overwritten.
        writeFileSync(path, content, { flag: 'wx' });
        io.stdout.write(`wrote    ${file}\n`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        io.stdout.write(`skipped  ${file} (already exists)\n`);
      }
    }
    return 0;
  },
};
