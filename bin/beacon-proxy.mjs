#!/usr/bin/env node
// Entry point of the `beacon-proxy` command: runs the TypeScript CLI through tsx (a dependency) on the
// Lambda runtime's Node major. Started from an older Node (say `npx beacon-proxy` on a machine with Node
// 20), it runs itself again under the Node 22 that `scripts/setup.mjs` put into .tools/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REQUIRED_NODE_MAJOR = 22;
const here = dirname(fileURLToPath(import.meta.url));

if (Number.parseInt(process.versions.node, 10) < REQUIRED_NODE_MAJOR) {
  const pinned = join(here, '..', '.tools', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(pinned)) {
    console.error(`beacon-proxy needs Node ${REQUIRED_NODE_MAJOR} (this is ${process.version}); run \`npm run setup\` once, or install Node ${REQUIRED_NODE_MAJOR}.`);
    process.exit(1);
  }
  const child = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../local/cli.ts');
process.exitCode = await main(process.argv.slice(2));
