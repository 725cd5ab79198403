import { describe, expect, it } from 'vitest';
import { stackConfigFrom } from '../../infra/config.js';

const config = (context: Record<string, unknown>) => stackConfigFrom((key) => context[key]);
const refusal = (context: Record<string, unknown>) => {
  try {
    config(context);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(context)}`);
};

const ROLE = 'arn:aws:iam::123456789012:role/beacon-operator';
const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('who may call the API (apiSubmitPrincipals, apiReadPrincipals)', () => {
  it('nobody by default; comma-separated role and user ARNs, with * in the name for SSO roles', () => {
    expect(config({})).toMatchObject({ apiSubmitPrincipals: [], apiReadPrincipals: [] });
    const parsed = config({
      apiSubmitPrincipals: `${ROLE}, arn:aws:iam::123456789012:user/pipeline`,
      apiReadPrincipals: ['arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_BeaconReadOnly_*'],
    });
    expect(parsed.apiSubmitPrincipals).toEqual([ROLE, 'arn:aws:iam::123456789012:user/pipeline']);
    expect(parsed.apiReadPrincipals).toHaveLength(1);
  });

  it.each([
    ['*', 'a wildcard would admit every principal'],
    ['arn:aws:iam::123456789012:root', 'a whole account is too broad'],
    ['123456789012', 'a whole account is too broad'],
    ['arn:aws:sts::123456789012:assumed-role/ops/alice', 'name the role'],
    ['arn:aws:iam::123456789012:role/*', 'the name is only a wildcard'],
    ['arn:aws:iam::123456789012:group/ops', 'not an IAM role or user ARN'],
    ['beacon-operator', 'not an IAM role or user ARN'],
  ])('refuses %s, naming the key, the item and why', (value, why) => {
    const message = refusal({ apiSubmitPrincipals: `${ROLE},${value}` });
    expect(message).toContain('invalid context value apiSubmitPrincipals.1');
    expect(message).toContain(`"${value}"`);
    expect(message).toContain(why);
  });
});

describe('keys, beacon secrets and parameters', () => {
  it('accepts key ARNs (single- and multi-region), secret ARNs or prefixes, parameter names or paths', () => {
    const parsed = config({
      secretKmsKeyArns: KEY,
      beaconKmsKeyArns: `${KEY},arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef`,
      beaconSecretArns: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf,arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/*',
      beaconParameterNames: '/beacon-proxy/passwords/svc,/beacon-proxy/passwords/*',
    });
    expect(parsed.beaconKmsKeyArns).toHaveLength(2);
    expect(parsed.beaconSecretArns).toHaveLength(2);
    expect(parsed.beaconParameterNames).toEqual(['/beacon-proxy/passwords/svc', '/beacon-proxy/passwords/*']);
  });

  it.each([
    ['secretKmsKeyArns', 'arn:aws:kms:eu-west-1:123456789012:alias/beacon', 'an alias cannot be used in an IAM policy'],
    ['beaconKmsKeyArns', '1234abcd-12ab-34cd-56ef-1234567890ab', 'not a KMS key ARN'],
    ['beaconSecretArns', 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:*', 'a prefix pattern'],
    ['beaconSecretArns', 'arn:aws:secretsmanager:*:123456789012:secret:beacon/*', 'a prefix pattern'],
    ['beaconSecretArns', 'beacon/svc-beacon', 'not a Secrets Manager secret ARN'],
    ['beaconParameterNames', '/*', 'a parameter name or path'],
    ['beaconParameterNames', 'beacon-proxy/passwords', 'a parameter name or path'],
  ])('%s refuses %s', (key, value, why) => {
    const message = refusal({ [key]: value });
    expect(message).toContain(`invalid context value ${key}.0`);
    expect(message).toContain(why);
  });
});

describe('FNMS over https only', () => {
  it('the default pin asks an operator (pinMode operator): no gateway URL is assumed', () => {
    expect(config({})).toMatchObject({ pinMode: 'operator' });
    expect(config({}).gatewayUrl).toBeUndefined();
  });

  it.each([
    ['gatewayUrl', 'http://fnms-gateway.corp.example'],
    ['gatewayTokenUrl', 'http://login.flexera.com/oidc/token'],
    ['fnmsUrl', 'http://fnms.corp.example'],
  ])('%s over plain http is refused with the reason', (key, value) => {
    expect(refusal({ [key]: value })).toBe(`invalid context value ${key}: ${key} must be an https:// URL (the call carries a token or a password)`);
  });
});
