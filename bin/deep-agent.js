#!/usr/bin/env node
// The installed entry point: runs the TypeScript CLI through tsx (a runtime dependency), so no build step is needed.
import { register } from 'tsx/esm/api';

register();
await import('./deep-agent.ts');
