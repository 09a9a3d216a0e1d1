#!/usr/bin/env node
import { main } from '../lib/cli/index.js';

process.exitCode = await main({ argv: process.argv.slice(2), env: { ...process.env }, cwd: process.env.INIT_CWD ?? process.cwd(), stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
