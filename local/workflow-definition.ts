import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

import { extractStateMachineDefinition, type SynthesizedDefinition } from '../infra/workflow-definition.js';

const ROOT = join(import.meta.dirname, '..');
const CACHE_DIR = join(ROOT, '.beacon-proxy', 'cache');

/** The per-beacon state machine exactly as CDK synthesizes it for deployment. */
export interface SynthesizedWorkflow {
  definition: SynthesizedDefinition['definition'];
}

/**
 * Synthesizes the real stack (infra/) with stub Lambda code (the twin runs the handlers in-process) and
 * returns the workflow definition.
 */
export async function synthesizeWorkflow(): Promise<SynthesizedWorkflow> {
  // CDK is loaded only when the cache misses: it takes seconds to import.
  const [{ App }, { Template }, { buildApp }, { BUNDLING_CONTEXT_KEY }] = await Promise.all([
    import('aws-cdk-lib'),
    import('aws-cdk-lib/assertions'),
    import('../infra/app.js'),
    import('../infra/constructs/beacon-function.js'),
  ]);
  const app = new App({ context: { [BUNDLING_CONTEXT_KEY]: 'stub' } });
  const { stack } = buildApp(app, { nag: false });
  return { definition: extractStateMachineDefinition(Template.fromStack(stack).toJSON()).definition };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : [path];
  });
}

/** A digest of everything the synthesized definition depends on: the infra sources, the shared names, the lock file. */
function definitionDigest(): string {
  const hash = createHash('sha256');
  const files = [...sourceFiles(join(ROOT, 'infra')), ...sourceFiles(join(ROOT, 'lambdas', 'core')), join(ROOT, 'package-lock.json')].sort();
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file));
  return hash.digest('hex').slice(0, 20);
}

/** The synthesized workflow, from a cache keyed by the digest of its sources (a synth takes ~15 s). */
export async function loadWorkflow(): Promise<SynthesizedWorkflow> {
  const file = join(CACHE_DIR, `workflow-${definitionDigest()}.json`);
  if (existsSync(file)) {
    return JSON.parse(readFileSync(file, 'utf8')) as SynthesizedWorkflow;
  }
  const workflow = await synthesizeWorkflow();
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(workflow));
  return workflow;
}
