import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

import { extractStateMachineDefinition, type SynthesizedDefinition } from '../infra/workflow-definition.js';
import { parseRequestTiming, parseWorkflowTiming, type RequestTiming, type WorkflowTiming } from '../lambdas/core/timing.js';
import { ENV } from '../lambdas/aws/env-names.js';
import { TASK_STATE_HANDLERS } from '../infra/workflow-states.js';
import { REQUEST_TASK_STATE_HANDLERS } from '../infra/request-states.js';

const ROOT = join(import.meta.dirname, '..');
const CACHE_DIR = join(ROOT, '.beacon-proxy', 'cache');

/** A Lambda function as the template declares it: what the twin enforces when it runs the handler. */
export interface FunctionSpec {
  logicalId: string;
  timeoutSeconds: number;
  memoryMb: number;
}

/** A DynamoDB table as the template declares it (the twin creates it in dynalite). */
export interface TableSpec {
  logicalId: string;
  keySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>;
  attributeDefinitions: Array<{ AttributeName: string; AttributeType: 'S' | 'N' | 'B' }>;
  ttlAttribute: string | null;
  /** As the template declares them (CreateTable takes the same shape). */
  globalSecondaryIndexes?: Array<{ IndexName: string; KeySchema: Array<{ AttributeName: string; KeyType: 'HASH' | 'RANGE' }>; Projection: { ProjectionType: string } }>;
}

/** What the twin takes from the synthesized stack: the same definition, limits and wiring AWS would get. */
export interface SynthesizedWorkflow {
  definition: SynthesizedDefinition['definition'];
  /** Per Task state: the function it invokes, with its timeout and memory. */
  taskFunctions: Record<string, FunctionSpec>;
  /** The derived timing the stack passes to the workflow functions (their WORKFLOW_TIMING environment). */
  timing: WorkflowTiming;
  /** The EventBridge rule of the execution cleanup: its event pattern and the function it invokes. */
  cleanup: { eventPattern: Record<string, unknown>; function: FunctionSpec };
  /** The intake queue's redrive policy. */
  intakeQueue: { maxReceiveCount: number; visibilityTimeoutSeconds: number };
  intakeFunction: FunctionSpec;
  /** The state table (pk/sk) and the idempotency table. */
  tables: { state: TableSpec; idempotency: TableSpec };
  /** The automatic triggers: the drift and new-beacon functions, and the event pattern of the beacon tag rule. */
  triggers: { driftFunction: FunctionSpec; newBeaconFunction: FunctionSpec; tagRulePattern: Record<string, unknown> };
  /** The request workflow (one execution per request): its definition, Task functions and timing. */
  request: { definition: SynthesizedDefinition['definition']; taskFunctions: Record<string, FunctionSpec>; timing: RequestTiming };
}

/** The function a Task state invokes: its Resource (payload only) or Parameters.FunctionName (lambda:invoke integrations, .waitForTaskToken). */
function taskFunctionId(state: Record<string, unknown>): string {
  const resource = String(state.Resource);
  const arn = resource.includes(':function:') ? resource : String((state.Parameters as { FunctionName?: string } | undefined)?.FunctionName ?? '');
  const id = arn.split(':function:')[1];
  if (!id) throw new Error(`cannot tell the function of Task ${resource}`);
  return id;
}

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

function functionSpec(resources: Resources, logicalId: string): FunctionSpec {
  const fn = resources[logicalId];
  if (fn?.Type !== 'AWS::Lambda::Function') throw new Error(`${logicalId} is not a Lambda function of the template`);
  return { logicalId, timeoutSeconds: Number(fn.Properties?.Timeout ?? 3), memoryMb: Number(fn.Properties?.MemorySize ?? 128) };
}

function refOf(value: unknown): string | null {
  const arn = (value as { 'Fn::GetAtt'?: [string, string] })?.['Fn::GetAtt'];
  return arn ? arn[0] : null;
}

/** Reads the twin's spec out of a synthesized template (exported for tests). */
export function twinSpecFromTemplate(template: { Resources: Resources }): SynthesizedWorkflow {
  const resources = template.Resources;
  const { definition } = extractStateMachineDefinition(template as never);
  const taskFunctions: Record<string, FunctionSpec> = {};
  for (const stateName of Object.keys(TASK_STATE_HANDLERS)) {
    const state = definition.States[stateName];
    if (!state) throw new Error(`the synthesized workflow has no Task state ${stateName}`);
    taskFunctions[stateName] = functionSpec(resources, taskFunctionId(state));
  }
  const requestMachine = extractStateMachineDefinition(template as never, undefined, 'request').definition;
  const requestTasks: Record<string, FunctionSpec> = {};
  for (const stateName of Object.keys(REQUEST_TASK_STATE_HANDLERS)) {
    const state = requestMachine.States[stateName];
    if (!state) throw new Error(`the synthesized request workflow has no Task state ${stateName}`);
    requestTasks[stateName] = functionSpec(resources, taskFunctionId(state));
  }
  const prepare = resources[requestTasks.PrepareTargets!.logicalId]!.Properties?.Environment?.Variables ?? {};
  const requestTiming = parseRequestTiming(String(prepare[ENV.requestTiming]));
  const anyTask = Object.values(taskFunctions)[0]!;
  const variables = resources[anyTask.logicalId]!.Properties?.Environment?.Variables ?? {};
  const timing = parseWorkflowTiming(String(variables[ENV.workflowTiming]));

  const rule = Object.values(resources).find((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties?.EventPattern ?? {}).includes('Step Functions Execution Status Change'));
  if (!rule) throw new Error('the template has no execution cleanup rule');
  const cleanupId = refOf(rule.Properties!.Targets[0].Arn);
  if (!cleanupId) throw new Error('the cleanup rule does not target a function of the template');

  const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue' && r.Properties?.RedrivePolicy);
  const intake = queues.find(([id]) => id.startsWith('IntakeQueue'));
  if (!intake) throw new Error('the template has no intake queue with a redrive policy');
  const mapping = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && refOf(r.Properties?.EventSourceArn) === intake[0]);
  const intakeFn = mapping?.Properties?.FunctionName?.Ref as string | undefined;
  if (!intakeFn) throw new Error('the intake queue has no event source mapping');

  const tables = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
    .map(([logicalId, r]): TableSpec => ({
      logicalId,
      keySchema: r.Properties!.KeySchema,
      attributeDefinitions: r.Properties!.AttributeDefinitions,
      ttlAttribute: r.Properties!.TimeToLiveSpecification?.Enabled ? r.Properties!.TimeToLiveSpecification.AttributeName : null,
      ...(r.Properties!.GlobalSecondaryIndexes ? { globalSecondaryIndexes: r.Properties!.GlobalSecondaryIndexes } : {}),
    }));
  const state = tables.find((t) => t.keySchema.some((k) => k.AttributeName === 'sk'));
  const idempotency = tables.find((t) => t !== state);
  if (!state || !idempotency) throw new Error('the template does not have the state and idempotency tables');

  const functionNamed = (prefix: string): FunctionSpec => {
    const found = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix));
    if (!found) throw new Error(`the template has no ${prefix} function`);
    return functionSpec(resources, found[0]);
  };
  const tagRule = Object.values(resources).find((r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties?.EventPattern?.source ?? []).includes('aws.tag'));
  if (!tagRule) throw new Error('the template has no beacon tag rule');

  return {
    definition,
    taskFunctions,
    triggers: { driftFunction: functionNamed('DriftCheckHandler'), newBeaconFunction: functionNamed('NewBeaconHandler'), tagRulePattern: tagRule.Properties!.EventPattern },
    timing,
    cleanup: { eventPattern: rule.Properties!.EventPattern, function: functionSpec(resources, cleanupId) },
    intakeQueue: { maxReceiveCount: Number(intake[1].Properties!.RedrivePolicy.maxReceiveCount), visibilityTimeoutSeconds: Number(intake[1].Properties!.VisibilityTimeout ?? 30) },
    intakeFunction: functionSpec(resources, intakeFn),
    tables: { state, idempotency },
    request: { definition: requestMachine, taskFunctions: requestTasks, timing: requestTiming },
  };
}

/**
 * Synthesizes the real stack (infra/) with stub Lambda code (the twin runs the handlers in-process) and
 * returns what the twin needs from it.
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
  return twinSpecFromTemplate(Template.fromStack(stack).toJSON() as { Resources: Resources });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : [path];
  });
}

/** A digest of everything the synthesized stack depends on: infra, the Lambda sources, the documents, the lock file. */
function definitionDigest(): string {
  const hash = createHash('sha256');
  const files = [
    ...sourceFiles(join(ROOT, 'infra')),
    ...sourceFiles(join(ROOT, 'lambdas')),
    ...sourceFiles(join(ROOT, 'ssm-documents', 'generated')),
    join(ROOT, 'ssm-documents', 'documents.ts'),
    join(ROOT, 'local', 'workflow-definition.ts'),
    join(ROOT, 'package-lock.json'),
  ].sort();
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file));
  return hash.digest('hex').slice(0, 20);
}

/** The synthesized workflow, from a cache keyed by the digest of its sources (a synth takes ~15 s). */
export async function loadWorkflow(): Promise<SynthesizedWorkflow> {
  const file = join(CACHE_DIR, `twin-spec-${definitionDigest()}.json`);
  if (existsSync(file)) {
    return JSON.parse(readFileSync(file, 'utf8')) as SynthesizedWorkflow;
  }
  const workflow = await synthesizeWorkflow();
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(file, JSON.stringify(workflow));
  return workflow;
}
