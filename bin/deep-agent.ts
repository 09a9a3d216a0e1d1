#!/usr/bin/env node
import { main } from '../lib/cli/index.js';

// `deep-agent mcp tools | head` closes our stdout early: that is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
process.exitCode = await main({ argv: process.argv.slice(2), env: { ...process.env }, cwd: process.env.INIT_CWD ?? process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
