import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/beacon-function.js';
import { PINNED_NODE, REQUIRED_NODE_MAJOR } from '../../scripts/setup.mjs';
import { synthStack } from './synth.js';

const suiteMajor = Number.parseInt(process.versions.node, 10);

describe('the suite runs on the Node major the Lambda functions run on', () => {
  const { template } = synthStack({ stackName: 'RuntimeParity' });
  const runtimes = Object.values(template.findResources('AWS::Lambda::Function')).map((fn) => String(fn.Properties.Runtime));
  const nodeRuntimes = runtimes.filter((runtime) => runtime.startsWith('nodejs'));

  it('every Node.js function of the stack declares the same runtime, and it is the one this suite runs on', () => {
    expect(nodeRuntimes.length).toBeGreaterThan(10);
    expect(new Set(nodeRuntimes)).toEqual(new Set([`nodejs${suiteMajor}.x`]));
  });

  it('the set-up step provides that same major, pinned, and the project declares it as its engine', () => {
    expect(REQUIRED_NODE_MAJOR).toBe(suiteMajor);
    expect(Number.parseInt(PINNED_NODE.version, 10)).toBe(REQUIRED_NODE_MAJOR);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${REQUIRED_NODE_MAJOR}`);
  });

  it('esbuild bundles for that major', () => {
    const source = readFileSync(join(REPO_ROOT, 'infra', 'constructs', 'beacon-function.ts'), 'utf8');
    expect(source).toContain(`target: 'node${suiteMajor}'`);
  });
});
