#!/usr/bin/env node
// Entry point of the `beacon-proxy` command: runs the TypeScript CLI through tsx (a dependency).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../local/cli.ts');
process.exitCode = await main(process.argv.slice(2));
