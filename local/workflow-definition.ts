import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const CACHE_DIR = join(ROOT, '.beacon-proxy', 'cache');

/** The per-beacon state machine as CDK synthesizes it, with each Lambda ARN replaced by a readable local ARN. */
export interface SynthesizedWorkflow {
  definition: Record<string, unknown> & { States: Record<string, Record<string, unknown>>; StartAt: string };
  /** Local function ARN -> CDK construct path of the Lambda it stands for. */
  functions: Map<string, string>;
}

const LOCAL_ARN_PREFIX = 'arn:aws:lambda:local-1:000000000000:function:';

type Part = string | { 'Fn::GetAtt'?: [string, string]; Ref?: string; [key: string]: unknown };

function resolvePart(part: Part): string {
  if (typeof part === 'string') return part;
  if (part['Fn::GetAtt']) return `${LOCAL_ARN_PREFIX}${part['Fn::GetAtt'][0]}`;
  if (part.Ref) return `local-ref-${part.Ref}`;
  throw new Error(`cannot resolve ${JSON.stringify(part)} in the state machine definition`);
}

/**
 * Synthesizes the real stack (infra/) with stub Lambda code (the twin runs the handlers in-process) and
 * returns the workflow definition. The definition is exactly what would be deployed.
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
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, string> }> };
  const machines = Object.entries(template.Resources).filter(([, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine');
  const workflow = machines.find(([id]) => id.includes('BeaconWorkflow')) ?? machines[0];
  if (!workflow) throw new Error('the stack has no state machine');
  const body = workflow[1].Properties?.DefinitionString as string | { 'Fn::Join': [string, Part[]] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map(resolvePart).join(body['Fn::Join'][0]);
  const functions = new Map<string, string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') functions.set(`${LOCAL_ARN_PREFIX}${id}`, resource.Metadata?.['aws:cdk:path'] ?? id);
  }
  return { definition: JSON.parse(text), functions };
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
    const cached = JSON.parse(readFileSync(file, 'utf8')) as { definition: SynthesizedWorkflow['definition']; functions: Array<[string, string]> };
    return { definition: cached.definition, functions: new Map(cached.functions) };
  }
  const workflow = await synthesizeWorkflow();
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify({ definition: workflow.definition, functions: [...workflow.functions] }));
  return workflow;
}
