/**
 * The per-beacon state machine definition as synthesized: for tests (asl-validator, path checks) and for the
 * local twin, which runs it in a local ASL interpreter with Task states mapped to the handler factories.
 */

type Template = { [key: string]: unknown };
type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

export interface SynthesizedDefinition {
  /** The ASL definition with every Lambda ARN replaced by `arnFor(logicalId)`. */
  definition: { StartAt: string; States: Record<string, Record<string, unknown>>; [key: string]: unknown };
  /** Lambda logical ids in the order they appear. */
  functionLogicalIds: string[];
}

/** A placeholder ARN that keeps the function's logical id readable. */
export const placeholderLambdaArn = (logicalId: string): string => `arn:aws:lambda:us-east-1:123456789012:function:${logicalId}`;

function render(part: unknown, arnFor: (logicalId: string) => string, seen: string[]): string {
  if (typeof part === 'string') return part;
  const getAtt = (part as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt && getAtt[1] === 'Arn') {
    if (!seen.includes(getAtt[0])) seen.push(getAtt[0]);
    return arnFor(getAtt[0]);
  }
  const ref = (part as { Ref?: string }).Ref;
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::Region') return 'us-east-1';
  if (ref === 'AWS::AccountId') return '123456789012';
  throw new Error(`unexpected token in the state machine definition: ${JSON.stringify(part)}`);
}

/** Logical id prefixes of the stack's state machines: the per-beacon workflow and the request workflow. */
export const STATE_MACHINE_IDS = { beacon: 'BeaconWorkflowStateMachine', request: 'RequestRolloutStateMachine' } as const;

/** Finds a state machine of a synthesized template (default: the per-beacon workflow) and renders its definition. */
export function extractStateMachineDefinition(
  template: Template,
  arnFor: (logicalId: string) => string = placeholderLambdaArn,
  which: keyof typeof STATE_MACHINE_IDS = 'beacon',
): SynthesizedDefinition {
  const machines = Object.entries(template.Resources as Resources)
    .filter(([logicalId, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine' && logicalId.startsWith(STATE_MACHINE_IDS[which]))
    .map(([, resource]) => resource);
  if (machines.length !== 1) throw new Error(`expected one ${which} state machine, found ${machines.length}`);
  const body = machines[0]!.Properties?.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const seen: string[] = [];
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => render(part, arnFor, seen)).join(body['Fn::Join'][0]);
  return { definition: JSON.parse(text) as SynthesizedDefinition['definition'], functionLogicalIds: seen };
}

export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
}

/** The waits of a retrier without jitter, in seconds: IntervalSeconds x BackoffRate^n, capped at MaxDelaySeconds (ASL defaults 1, 2.0, 3). */
export function retryDelaysSeconds(retrier: Retrier): number[] {
  const interval = retrier.IntervalSeconds ?? 1;
  const rate = retrier.BackoffRate ?? 2;
  const cap = retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY;
  return Array.from({ length: retrier.MaxAttempts ?? 3 }, (_, attempt) => Math.min(cap, interval * rate ** attempt));
}
