/**
 * A small IAM policy evaluator: the stand-in for AWS's authorization where the twin and the tests need it
 * (API Gateway's resource policy in front of the local server, DynamoDB's leading-key conditions on a role).
 * It implements the parts of the policy language the stack's policies use: Allow/Deny, Principal (AWS,
 * Service, *), Action/NotAction, Resource/NotResource with * and ? wildcards, and the String*, Arn* and Bool
 * condition operators with ForAllValues/ForAnyValue and IfExists. Evaluation follows IAM: an explicit Deny
 * wins, then any Allow, else the request is implicitly denied.
 */

export type PolicyValue = string | string[];

export interface PolicyStatementJson {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | { AWS?: PolicyValue; Service?: PolicyValue };
  Action?: PolicyValue;
  NotAction?: PolicyValue;
  Resource?: PolicyValue;
  NotResource?: PolicyValue;
  Condition?: Record<string, Record<string, PolicyValue | boolean>>;
}

export interface PolicyDocumentJson {
  Version?: string;
  Statement: PolicyStatementJson[];
}

/** Who asks: an IAM role or user (its ARN, as aws:PrincipalArn gives it), or an AWS service. */
export type RequestPrincipal = { arn: string } | { service: string };

export interface AuthorizationRequest {
  principal: RequestPrincipal;
  action: string;
  resource: string;
  /** Condition keys of the request (aws:PrincipalArn is added from the principal). Multi-valued keys are arrays. */
  context?: Record<string, string | string[] | undefined>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

const list = (value: PolicyValue | boolean | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [String(value)]);

/** IAM wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}

function accountOf(arn: string): string | undefined {
  return /^arn:[^:]+:[^:]*:[^:]*:(\d{12}):/.exec(arn)?.[1];
}

function principalMatches(statement: PolicyStatementJson, principal: RequestPrincipal): boolean {
  // An identity policy has no Principal: it applies to the identity it is attached to.
  if (statement.Principal === undefined) return true;
  if (statement.Principal === '*') return true;
  if ('service' in principal) return list(statement.Principal.Service).includes(principal.service);
  return list(statement.Principal.AWS).some((named) => {
    if (named === '*') return true;
    if (/^arn:[^:]+:iam::\d{12}:root$/.test(named) || /^\d{12}$/.test(named)) return accountOf(principal.arn) === (accountOf(named) ?? named);
    return named === principal.arn;
  });
}

function actionMatches(statement: PolicyStatementJson, action: string): boolean {
  if (statement.NotAction !== undefined) return !list(statement.NotAction).some((pattern) => wildcardMatch(pattern, action, true));
  return list(statement.Action).some((pattern) => wildcardMatch(pattern, action, true));
}

function resourceMatches(statement: PolicyStatementJson, resource: string): boolean {
  if (statement.NotResource !== undefined) return !list(statement.NotResource).some((pattern) => wildcardMatch(pattern, resource));
  return list(statement.Resource).some((pattern) => wildcardMatch(pattern, resource));
}

type Comparator = (policyValue: string, requestValue: string) => boolean;

const COMPARATORS: Record<string, { compare: Comparator; negated: boolean }> = {
  StringEquals: { compare: (p, r) => p === r, negated: false },
  StringNotEquals: { compare: (p, r) => p === r, negated: true },
  StringEqualsIgnoreCase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: true },
  StringLike: { compare: (p, r) => wildcardMatch(p, r), negated: false },
  StringNotLike: { compare: (p, r) => wildcardMatch(p, r), negated: true },
  ArnEquals: { compare: (p, r) => p === r, negated: false },
  ArnNotEquals: { compare: (p, r) => p === r, negated: true },
  ArnLike: { compare: (p, r) => wildcardMatch(p, r), negated: false },
  ArnNotLike: { compare: (p, r) => wildcardMatch(p, r), negated: true },
  Bool: { compare: (p, r) => p.toLowerCase() === r.toLowerCase(), negated: false },
};

function conditionHolds(operatorName: string, key: string, policyValues: string[], requestValue: string | string[] | undefined): boolean {
  let operator = operatorName;
  let setOperator: 'ForAllValues' | 'ForAnyValue' | undefined;
  const qualified = /^(ForAllValues|ForAnyValue):(.+)$/.exec(operator);
  if (qualified) {
    setOperator = qualified[1] as 'ForAllValues' | 'ForAnyValue';
    operator = qualified[2]!;
  }
  const ifExists = operator.endsWith('IfExists');
  if (ifExists) operator = operator.slice(0, -'IfExists'.length);
  const comparator = COMPARATORS[operator];
  if (!comparator) throw new Error(`condition operator ${operatorName} (key ${key}) is not modelled by the stand-in evaluator`);
  const matchesAny = (value: string) => policyValues.some((policyValue) => comparator.compare(policyValue, value));
  const values = requestValue === undefined ? [] : Array.isArray(requestValue) ? requestValue : [requestValue];
  if (setOperator === 'ForAllValues') {
    // True for an absent or empty key: every one of no values matches (IAM's documented trap).
    return values.every((value) => (comparator.negated ? !matchesAny(value) : matchesAny(value)));
  }
  if (setOperator === 'ForAnyValue') return values.some((value) => (comparator.negated ? !matchesAny(value) : matchesAny(value)));
  if (values.length === 0) return ifExists || comparator.negated;
  const value = values[0]!;
  return comparator.negated ? !matchesAny(value) : matchesAny(value);
}

function conditionsHold(statement: PolicyStatementJson, context: Record<string, string | string[] | undefined>): boolean {
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    for (const [key, value] of Object.entries(block)) {
      const requestValue = Object.entries(context).find(([name]) => name.toLowerCase() === key.toLowerCase())?.[1];
      if (!conditionHolds(operator, key, list(value), requestValue)) return false;
    }
  }
  return true;
}

export function statementApplies(statement: PolicyStatementJson, request: AuthorizationRequest): boolean {
  const context = { ...request.context, ...('arn' in request.principal ? { 'aws:PrincipalArn': request.principal.arn } : {}) };
  return principalMatches(statement, request.principal) && actionMatches(statement, request.action) && resourceMatches(statement, request.resource) && conditionsHold(statement, context);
}

/** The decision of a set of statements (one or more policies) for one request. */
export function evaluatePolicies(statements: PolicyStatementJson[], request: AuthorizationRequest): Decision {
  const applicable = statements.filter((statement) => statementApplies(statement, request));
  if (applicable.some((statement) => statement.Effect === 'Deny')) return 'explicit-deny';
  return applicable.some((statement) => statement.Effect === 'Allow') ? 'allow' : 'implicit-deny';
}
