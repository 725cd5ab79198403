/**
 * What a request is refused for, with which code, field and words (lambdas/core/request.ts), and the limits
 * exactly at and one past each bound.
 */
import { describe, expect, it } from 'vitest';
import type { RequestError } from '../../lambdas/core/errors.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { SECRET_ARN, validInput } from '../support/requests.js';

function refusal(input: unknown): { code: string; field: string; message: string } {
  try {
    parseRequest(input);
  } catch (error) {
    const { code, field, message } = error as RequestError;
    return { code, field, message };
  }
  throw new Error('accepted');
}
const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
const gmsa = (name: string, extra: Record<string, unknown> = {}) => validInput({ account: { kind: 'gmsa', name, ...extra } });

describe('unknown and password-like fields', () => {
  it('an unknown field is named with its path and code; a password-like one is refused saying where passwords go', () => {
    expect(refusal(validInput({ extra: 1 } as never))).toEqual({ code: 'INVALID_REQUEST', field: 'extra', message: 'extra is not a known field; remove it (see the request schema in the README)' });
    expect(refusal(validInput({ target: { instanceIds: ids(1), other: 1 } }))).toMatchObject({ code: 'INVALID_TARGET', field: 'target.other' });
    expect(refusal(validInput({ endpoints: { upload: 'p:1', other: 'x' } }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'endpoints.other' });
    const password = refusal(validInput({ account: { kind: 'domain', name: 'CORP\\svc', passwordSecretArn: SECRET_ARN, password: 'x' } }));
    expect(password).toEqual({
      code: 'INVALID_ACCOUNT',
      field: 'account.password',
      message:
        'account.password is refused: a request never carries a password or secret. Store the password in Secrets Manager or as a SecureString parameter and give account.passwordSecretArn or account.passwordParameterName.',
    });
    expect(refusal(validInput({ bypass: [1] as never }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'bypass[0]', message: expect.stringMatching(/^bypass\[0\]: /) });
    expect(refusal(validInput({ proxy: 5 as never }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'proxy' });
  });
});

describe('targets', () => {
  it('exactly one of instanceIds or tag; 1 to 50 ids, each once; a valid tag', () => {
    expect(refusal(validInput({ target: { instanceIds: ids(1), tag: { key: 'k', value: 'v' } } }))).toEqual({ code: 'INVALID_TARGET', field: 'target', message: 'target takes exactly one of instanceIds or tag' });
    expect(() => parseRequest(validInput({ target: { instanceIds: ids(50) } }))).not.toThrow();
    expect(refusal(validInput({ target: { instanceIds: ids(51) } }))).toEqual({ code: 'INVALID_TARGET', field: 'target.instanceIds', message: 'target.instanceIds takes 1 to 50 ids; use a tag target for larger fleets' });
    const [a] = ids(1);
    expect(refusal(validInput({ target: { instanceIds: [a, a] } }))).toEqual({ code: 'INVALID_TARGET', field: 'target.instanceIds[1]', message: `target.instanceIds[1] repeats ${a}; list each beacon once` });
    expect(refusal(validInput({ target: { instanceIds: ['i-123'] } }))).toMatchObject({ code: 'INVALID_TARGET', field: 'target.instanceIds[0]', message: 'target.instanceIds[0] must be an SSM managed instance id: i- with 8 or 17 hex digits, or mi- with 17' });
    expect(refusal(validInput({ target: { tag: { key: 'bad key', value: 'v' } } }))).toEqual({ code: 'INVALID_TARGET', field: 'target.tag.key', message: 'target.tag.key must be a tag key of 1-128 letters, digits or _.:/=+@-' });
    expect(refusal(validInput({ target: { tag: { key: 'k', value: 'bad value' } } }))).toEqual({ code: 'INVALID_TARGET', field: 'target.tag.value', message: 'target.tag.value must be a tag value of letters, digits or _.:/=+@-' });
  });
});

describe('accounts', () => {
  it('a gMSA: DOMAIN\\name$, no password, no interactive logon', () => {
    expect(() => parseRequest(gmsa('CORP\\svc-beacon$'))).not.toThrow();
    for (const name of ['svc$', 'CORP\\svc', 'CORP\\a\\b$', 'BAD_DOMAIN\\svc$']) {
      expect(refusal(gmsa(name)), name).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name', message: expect.stringMatching(/^a gMSA is written DOMAIN\\name\$/) });
    }
    expect(refusal(gmsa('CORP\\svc$', { passwordSecretArn: SECRET_ARN }))).toEqual({ code: 'INVALID_ACCOUNT', field: 'account.passwordSecretArn', message: 'a gMSA has no password (Windows manages it); remove the password reference' });
    expect(refusal(gmsa('CORP\\svc$', { passwordParameterName: '/p/x' }))).toMatchObject({ field: 'account.passwordParameterName' });
    // A second backslash part is refused even when the part before it reads as a gMSA name (it would be dropped).
    expect(refusal(gmsa('CORP\\svc$\\x'))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name', message: expect.stringMatching(/^a gMSA is written DOMAIN\\name\$/) });
    expect(refusal(gmsa('CORP\\svc$', { interactiveLogon: true }))).toEqual({ code: 'INVALID_ACCOUNT', field: 'account.interactiveLogon', message: 'a gMSA cannot log on interactively; remove account.interactiveLogon' });
  });

  it('domain and local accounts: their forms, no built-in account, no $ name, exactly one password reference', () => {
    const account = (kind: string, name: string, refs: Record<string, unknown> = { passwordSecretArn: SECRET_ARN }) => validInput({ account: { kind, name, ...refs } });
    const domainForm = { code: 'INVALID_ACCOUNT', field: 'account.name', message: 'a domain account is written NETBIOS\\name or name@dns.domain (letters, digits, . _ -)' };
    for (const name of ['CORP\\a\\b', 'BAD_DOMAIN\\svc', 'CORP\\bad name']) expect(refusal(account('domain', name)), name).toEqual(domainForm);
    expect(refusal(account('domain', 'svc'))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name', message: 'a domain account is written NETBIOS\\name or name@dns.domain (letters, digits, . _ -)' });
    expect(refusal(account('local', 'CORP\\svc'))).toMatchObject({ field: 'account.name', message: 'a local account is a plain name of up to 20 letters, digits, . _ - (no domain part)' });
    for (const name of ['SYSTEM', 'LocalSystem', 'localservice', 'NetworkService']) {
      expect(refusal(account('local', name)), name).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name', message: expect.stringMatching(new RegExp(`^${name} is a built-in account`)) });
    }
    expect(refusal(account('domain', 'CORP\\svc', {}))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.passwordSecretArn', message: expect.stringMatching(/^a domain account needs exactly one password reference: account.passwordSecretArn \(Secrets Manager\) or account.passwordParameterName \(SecureString\); the beacon fetches it at run time$/) });
    expect(refusal(account('domain', 'CORP\\svc', { passwordSecretArn: SECRET_ARN, passwordParameterName: '/p/x' }))).toMatchObject({ code: 'INVALID_ACCOUNT' });
    expect(refusal(account('domain', 'CORP\\svc', { passwordSecretArn: 'arn:aws:ssm:x' }))).toMatchObject({ field: 'account.passwordSecretArn', message: 'account.passwordSecretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:region:account:secret:name)' });
    expect(refusal(account('domain', 'CORP\\svc', { passwordParameterName: 'bad name' }))).toEqual({ code: 'INVALID_ACCOUNT', field: 'account.passwordParameterName', message: 'account.passwordParameterName must be an SSM parameter name (/path/name) or parameter ARN' });
    expect(parseRequest(account('local', 'svc-beacon', { passwordParameterName: '/beacon/pw' })).account.passwordRef).toBe('/beacon/pw');
  });
});

describe('bypass list and the CRL switch', () => {
  it('at most 64 bypass entries', () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => `h${i}.example`);
    expect(() => parseRequest(validInput({ bypass: entries(64) }))).not.toThrow();
    expect(refusal(validInput({ bypass: entries(65) }))).toEqual({ code: 'INVALID_REQUEST', field: 'bypass', message: 'bypass takes at most 64 entries' });
    expect(refusal(validInput({ bypass: ['a b'] }))).toEqual({ code: 'INVALID_REQUEST', field: 'bypass[0]', message: 'bypass[0] must be a host, domain (wildcards allowed: *.corp.example), IP address, <local> or <-loopback>' });
  });

  it('disabling the check needs the acknowledgement and a reason of at most 500 printable characters', () => {
    const crl = (value: Record<string, unknown>) => validInput({ checkCertificateRevocation: value });
    expect(refusal(crl({ disable: true }))).toMatchObject({ code: 'CRL_ACK_REQUIRED', message: expect.stringMatching(/^disabling the certificate revocation check means revoked certificates go unnoticed; set checkCertificateRevocation.acknowledgeRisk to true and give a reason/) });
    expect(() => parseRequest(crl({ disable: true, acknowledgeRisk: true, reason: 'r'.repeat(500) }))).not.toThrow();
    expect(refusal(crl({ disable: true, acknowledgeRisk: true, reason: 'r'.repeat(501) }))).toEqual({
      code: 'INVALID_REQUEST',
      field: 'checkCertificateRevocation.reason',
      message: 'checkCertificateRevocation.reason must be printable ASCII of at most 500 characters',
    });
  });
});

describe('the previous account a rollback restores', () => {
  const OLD = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/old-svc-XyZ123';
  const previous = (value: Record<string, unknown>) => validInput({ previousAccount: { passwordSecretArn: OLD, ...value } });
  it('DOMAIN\\name (domain upper-cased), name@dns.domain or a local name; anything else refused', () => {
    expect(parseRequest(previous({ name: 'corp\\old' })).previousAccount).toEqual({ name: 'CORP\\old', passwordRef: OLD });
    expect(parseRequest(previous({ name: 'old@corp.example' })).previousAccount!.name).toBe('old@corp.example');
    expect(parseRequest(previous({ name: 'oldlocal' })).previousAccount!.name).toBe('oldlocal');
    for (const name of ['CORP\\a\\b', 'BAD_DOMAIN\\old', 'CORP\\', 'bad name', 'x@']) {
      expect(refusal(previous({ name })), name).toEqual({ code: 'INVALID_ACCOUNT', field: 'previousAccount.name', message: 'previousAccount.name is written DOMAIN\\name, name@dns.domain or a plain local name' });
    }
    expect(refusal(previous({ name: 'corp\\SVC-BEACON' }))).toEqual({ code: 'INVALID_ACCOUNT', field: 'previousAccount.name', message: 'previousAccount names the account being configured; leave it out' });
  });

  it('exactly one valid password reference', () => {
    expect(refusal(validInput({ previousAccount: { name: 'CORP\\old', passwordSecretArn: OLD, passwordParameterName: '/p/x' } }))).toEqual({
      code: 'INVALID_ACCOUNT',
      field: 'previousAccount.passwordSecretArn',
      message: 'previousAccount needs exactly one of passwordSecretArn or passwordParameterName',
    });
    expect(refusal(validInput({ previousAccount: { name: 'CORP\\old', passwordSecretArn: 'nope' } }))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'previousAccount.passwordSecretArn', message: 'previousAccount.passwordSecretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:region:account:secret:name)' });
    expect(refusal(validInput({ previousAccount: { name: 'CORP\\old', passwordParameterName: 'bad name' } }))).toEqual({
      code: 'INVALID_ACCOUNT',
      field: 'previousAccount.passwordParameterName',
      message: 'previousAccount.passwordParameterName must be an SSM parameter name (/path/name) or parameter ARN',
    });
    expect(parseRequest(validInput({ previousAccount: { name: 'CORP\\old', passwordParameterName: '/beacon/old' } })).previousAccount!.passwordRef).toBe('/beacon/old');
  });

  it('on hybrid (mi-) nodes, among others too, a parameter is given by its ARN, for the account and the previous one', () => {
    const mixed = { target: { instanceIds: ['i-0123456789abcdef0', 'mi-0123456789abcdef0'] } };
    expect(refusal(validInput({ ...mixed, previousAccount: { name: 'CORP\\old', passwordParameterName: '/beacon/old' } }))).toEqual({
      code: 'INVALID_ACCOUNT',
      field: 'previousAccount.passwordParameterName',
      message: "previousAccount.passwordParameterName must be the parameter's ARN for hybrid (mi-) nodes: they have no instance metadata to tell the region",
    });
  });
});

describe('probe URL, beacon version, the request as JSON text', () => {
  it('refused in words', () => {
    expect(refusal(validInput({ probeUrl: 'ftp://x' }))).toEqual({ code: 'INVALID_REQUEST', field: 'probeUrl', message: 'probeUrl must be an http(s) URL of FNMS: host, optional port and a plain path' });
    expect(refusal(validInput({ beaconVersion: { pin: '13.x' } }))).toEqual({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin', message: 'beaconVersion.pin must be "current" or a release number such as 13.2.0' });
  });

  it('"latest" is refused as an upgrade-on-its-own in any spelling that starts with it; a pin merely containing the word is just not a release', () => {
    const latest = { code: 'INVALID_REQUEST', field: 'beaconVersion.pin', message: 'beaconVersion.pin cannot be "latest": an automatic upgrade resets the beacon service account to LocalSystem. Pin "current" or a release such as 13.2.0' };
    for (const pin of ['latest', 'alwaysusethe-latest', 'Always-Use-The Latest']) expect(refusal(validInput({ beaconVersion: { pin } })), pin).toEqual(latest);
    expect(refusal(validInput({ beaconVersion: { pin: 'notlatest' } }))).toEqual({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin', message: 'beaconVersion.pin must be "current" or a release number such as 13.2.0' });
  });

  it('a field of the wrong kind says what zod found, not "is required" (that is only for a missing field)', () => {
    expect(refusal(validInput({ protocol: 'socks' }))).toEqual({ code: 'INVALID_REQUEST', field: 'protocol', message: 'protocol: Invalid input' });
    expect(refusal(validInput({ dryRun: 'yes' as never })).message).not.toContain('is required');
  });

  it('JSON text up to the size limit; larger or broken refused at $', async () => {
    const { parseRequestJson } = await import('../../lambdas/core/request.js');
    const { LIMITS } = await import('../../lambdas/core/limits.js');
    const base = JSON.stringify(validInput());
    const exact = `${base}${' '.repeat(LIMITS.maxRequestBytes - base.length)}`;
    expect(parseRequestJson(exact).requestId).toBe('req-test-1');
    expect(() => parseRequestJson(`${exact} `)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: '$', message: `the request is larger than ${LIMITS.maxRequestBytes} bytes` }));
    expect(() => parseRequestJson('é'.repeat(LIMITS.maxRequestBytes / 2 + 1))).toThrow(/larger than/);
    expect(() => parseRequestJson('{')).toThrow(expect.objectContaining({ field: '$', message: expect.stringMatching(/^the request is not valid JSON \(.+\)$/) }));
  });
});
