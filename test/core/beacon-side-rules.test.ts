import { describe, expect, test } from 'vitest';
import { MACHINE_SCOPE_BYPASS, REGISTRY_VALUE_NAMES } from '../../lambdas/core/beacon-facts.js';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import type { RequestError } from '../../lambdas/core/errors.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { StackConfigSchema } from '../../infra/config.js';
import { refusal as refusalOf } from '../support/refusal.js';
import { validInput as baseRequest } from '../support/requests.js';

const refusal = (input: unknown): RequestError => refusalOf(() => parseRequest(input));

const OLD_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/old-svc-XyZ123';

describe('previousAccount: the password account a rollback must be able to restore', () => {
  test('is normalised and carried into the desired state with its secret reference (never a password)', () => {
    const state = renderDesiredState(parseRequest(baseRequest({ previousAccount: { name: 'corp\\old-svc', passwordSecretArn: OLD_SECRET } })));
    expect(state.previousAccount).toEqual({ name: 'CORP\\old-svc', passwordRef: OLD_SECRET });
  });

  test('absent: null in the desired state', () => {
    expect(renderDesiredState(parseRequest(baseRequest())).previousAccount).toBeNull();
  });

  test('needs exactly one secret reference and may not name the account being configured', () => {
    expect(refusal(baseRequest({ previousAccount: { name: 'CORP\\old-svc' } }))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'previousAccount.passwordSecretArn' });
    const account = (baseRequest().account as { name: string }).name;
    expect(refusal(baseRequest({ previousAccount: { name: account, passwordSecretArn: OLD_SECRET } }))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'previousAccount.name' });
  });
});

describe('hybrid (mi-) nodes have no instance metadata', () => {
  const hybrid = { target: { instanceIds: ['mi-0123456789abcdef0'] } };
  test('a password parameter given by name is refused for them: its ARN is needed to know the region', () => {
    const input = baseRequest({ ...hybrid, account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordParameterName: '/beacon-proxy/svc-beacon/password' } });
    expect(refusal(input)).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.passwordParameterName' });
  });

  test('a parameter ARN or a secret ARN is accepted', () => {
    const arn = 'arn:aws:ssm:eu-west-1:123456789012:parameter/beacon-proxy/svc-beacon/password';
    expect(() => parseRequest(baseRequest({ ...hybrid, account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordParameterName: arn } }))).not.toThrow();
    expect(() => parseRequest(baseRequest(hybrid))).not.toThrow();
  });
});

describe('the CRL switch belongs to the administrator unless the request sets it', () => {
  const crlValues = (input: Record<string, unknown>) =>
    renderDesiredState(parseRequest(baseRequest(input))).registry.filter((value) => value.name === REGISTRY_VALUE_NAMES.checkCertificateRevocation);

  test('not mentioned: no CheckCertificateRevocation entry at all (the beacon keeps what it has)', () => {
    expect(crlValues({})).toEqual([]);
  });

  test('disable: false removes the value (the default check); disabled with acknowledgement writes False', () => {
    expect(crlValues({ checkCertificateRevocation: { disable: false } })).toEqual([{ path: 'Common', name: 'CheckCertificateRevocation', type: 'String', value: null }]);
    expect(crlValues({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable' } })[0]?.value).toBe('False');
  });
});

describe('machine scope always bypasses IMDS and the SSM endpoints', () => {
  test('they come first, the request bypass after them, <local> last, no duplicates', () => {
    const state = renderDesiredState(parseRequest(baseRequest({ wininetScope: 'machine', bypass: ['169.254.169.254', '*.corp.example', '<local>'] })));
    expect(state.wininet.bypass).toEqual([...MACHINE_SCOPE_BYPASS, '*.corp.example', '<local>']);
  });

  test('account scope keeps the bypass list as requested', () => {
    expect(renderDesiredState(parseRequest(baseRequest({ bypass: ['*.corp.example', '<local>'] }))).wininet.bypass).toEqual(['*.corp.example', '<local>']);
  });
});

describe('the FNMS probe after configure', () => {
  const probe = (input: Record<string, unknown>, stack?: string) => renderDesiredState(parseRequest(baseRequest(input)), stack === undefined ? {} : { probeUrl: stack }).probe;

  test("from the stack config, or the request's own probeUrl, which wins", () => {
    expect(probe({})).toBeNull();
    expect(probe({}, 'https://fnms.corp.example/ManageSoftRL/')).toEqual({ url: 'https://fnms.corp.example/ManageSoftRL/' });
    expect(probe({}, 'none')).toBeNull();
    expect(probe({ probeUrl: 'https://fnms2.corp.example/ManageSoftRL' }, 'https://fnms.corp.example/ManageSoftRL/')).toEqual({ url: 'https://fnms2.corp.example/ManageSoftRL' });
  });

  test('a probeUrl that is not a plain http(s) URL is refused', () => {
    for (const probeUrl of ['none', 'ftp://fnms.corp.example/', 'https://fnms.corp.example/?q=1', "https://fnms.corp.example/'$(x)"]) {
      expect(refusal(baseRequest({ probeUrl })), probeUrl).toMatchObject({ code: 'INVALID_REQUEST', field: 'probeUrl' });
    }
  });

  test('the stack setting beaconProbeUrl takes none or such a URL', () => {
    expect(StackConfigSchema.parse({}).beaconProbeUrl).toBe('none');
    expect(StackConfigSchema.parse({ beaconProbeUrl: 'https://fnms.corp.example/ManageSoftRL/' }).beaconProbeUrl).toBe('https://fnms.corp.example/ManageSoftRL/');
    expect(StackConfigSchema.safeParse({ beaconProbeUrl: 'https://fnms.corp.example/a b' }).success).toBe(false);
  });
});
