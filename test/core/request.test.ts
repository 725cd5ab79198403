import { describe, expect, it } from 'vitest';
import { refusal } from '../support/refusal.js';
import { parseRequest, parseRequestJson } from '../../lambdas/core/request.js';
import { SECRET_ARN, example, validInput } from '../support/requests.js';

function refusalOf(input: unknown): { code: string; field: string; message: string } {
  const { code, field, message } = refusal(() => parseRequest(input));
  return { code, field, message };
}

describe('every bundled example is a valid request', () => {
  it.each(['https-one-proxy', 'http', 'split-endpoints', 'gmsa', 'crl-disabled'])('%s', (name) => {
    expect(() => parseRequest(example(name))).not.toThrow();
  });
});

describe('the request is strict', () => {
  it('refuses an unknown top-level field and names it', () => {
    expect(refusalOf(validInput({ colour: 'blue' } as never))).toMatchObject({ code: 'INVALID_REQUEST', field: 'colour' });
  });

  it.each(['password', 'proxyPassword', 'secret', 'pwd'])('refuses a password-like field "%s" with advice to use a secret reference', (key) => {
    const input = validInput({ account: { kind: 'domain', name: 'CORP\\svc', passwordSecretArn: SECRET_ARN, [key]: 'hunter2' } });
    const error = refusalOf(input);
    expect(error).toMatchObject({ code: 'INVALID_ACCOUNT', field: `account.${key}` });
    expect(error.message).toMatch(/never carries a password/);
    expect(error.message).not.toContain('hunter2');
  });

  it('refuses a password field at the top level too', () => {
    expect(refusalOf(validInput({ password: 'x' } as never))).toMatchObject({ code: 'INVALID_REQUEST', field: 'password' });
  });

  it('says which field is missing', () => {
    const { protocol: _omit, ...input } = validInput();
    expect(refusalOf(input)).toMatchObject({ code: 'INVALID_REQUEST', field: 'protocol', message: 'protocol: is required' });
  });

  it('refuses a protocol other than http or https', () => {
    expect(refusalOf(validInput({ protocol: 'socks' }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'protocol' });
  });

  it('refuses a request that is not JSON, and one over the size limit', () => {
    expect(() => parseRequestJson('{nope')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: '$' }));
    expect(() => parseRequestJson(JSON.stringify(validInput({ bypass: Array(3000).fill('host.example') })))).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', field: '$' }),
    );
  });
});

describe('proxy address rules', () => {
  it.each([
    ['proxy.corp.example:8080', 'proxy.corp.example', 8080],
    ['http://proxy.corp.example:8080', 'proxy.corp.example', 8080],
    ['https://Proxy.Corp.Example:443/', 'proxy.corp.example', 443],
    ['10.1.2.3:3128', '10.1.2.3', 3128],
    ['[2001:DB8::1]:8080', '[2001:db8::1]', 8080],
    ['proxy:1', 'proxy', 1],
    ['proxy:65535', 'proxy', 65535],
  ])('accepts %s', (proxy, host, port) => {
    expect(parseRequest(validInput({ proxy })).proxy).toEqual({ host, port });
  });

  it.each(['proxy.corp.example', 'http://proxy.corp.example', '[2001:db8::1]', 'proxy:', 'proxy:0', 'proxy:65536', 'proxy:80a', 'proxy:-1'])(
    'requires a port from 1 to 65535: %s',
    (proxy) => {
      expect(refusalOf(validInput({ proxy }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'proxy' });
    },
  );

  it.each(['user:pass@proxy:8080', 'http://user:pass@proxy:8080', 'https://user@proxy.corp.example:8443', 'alice@proxy:3128'])(
    'refuses user info as an authenticating proxy: %s',
    (proxy) => {
      const error = refusalOf(validInput({ proxy }));
      expect(error).toMatchObject({ code: 'PROXY_AUTH_UNSUPPORTED', field: 'proxy' });
      expect(error.message).toMatch(/anonymous/);
    },
  );

  it.each(['http://wpad.corp.example/wpad.dat', 'http://config.corp.example:80/proxy.pac', 'file://c:/proxy.pac', 'file:///etc/proxy.pac', 'file:c:/x/proxy.cfg', 'http://cfg:80/PROXY.PAC?v=2'])(
    'refuses a PAC script: %s',
    (proxy) => {
      expect(refusalOf(validInput({ proxy }))).toMatchObject({ code: 'PAC_UNSUPPORTED', field: 'proxy' });
    },
  );

  it.each(['http://proxy:8080/path', 'http://proxy:8080/?q=1', 'http://proxy:8080#frag', 'socks5://proxy:1080', 'ftp://proxy:21', 'proxy:8080/x'])(
    'refuses a path, query or other scheme: %s',
    (proxy) => {
      expect(refusalOf(validInput({ proxy }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'proxy' });
    },
  );

  it.each(['prox y:80', 'proxy";calc:80', "proxy'x:80", 'proxy`x`:80', 'proxy$(x):80', 'proxy\n:80', 'proxy\u0000:80', 'prøxy:80', '-proxy:80', 'proxy-.corp:80', '999.1.1.1:80', '2001:db8::1:80', ':80'])(
    'refuses a host that is not a DNS name, IPv4 or bracketed IPv6: %j',
    (proxy) => {
      expect(refusalOf(validInput({ proxy }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'proxy' });
    },
  );

  it('applies the same rules to each endpoint and names the endpoint field', () => {
    expect(refusalOf(validInput({ endpoints: { upload: 'user:pw@up:8080' } }))).toMatchObject({
      code: 'PROXY_AUTH_UNSUPPORTED',
      field: 'endpoints.upload',
    });
    expect(refusalOf(validInput({ endpoints: { wininet: 'http://w/wpad.dat' } }))).toMatchObject({
      code: 'PAC_UNSUPPORTED',
      field: 'endpoints.wininet',
    });
    expect(refusalOf(validInput({ endpoints: { launcher: 'launcher' } }))).toMatchObject({ code: 'INVALID_PROXY_URL', field: 'endpoints.launcher' });
    expect(refusalOf(validInput({ endpoints: { batch: 'b:1' } }))).toMatchObject({ field: 'endpoints.batch' });
  });
});

describe('CRL check', () => {
  it('disabling it without acknowledging the risk is refused', () => {
    expect(refusalOf(validInput({ checkCertificateRevocation: { disable: true, reason: 'CA down' } }))).toMatchObject({
      code: 'CRL_ACK_REQUIRED',
      field: 'checkCertificateRevocation.acknowledgeRisk',
    });
  });

  it.each([undefined, '', '   '])('disabling it without a reason is refused (%j)', (reason) => {
    expect(refusalOf(validInput({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason } }))).toMatchObject({
      code: 'CRL_ACK_REQUIRED',
      field: 'checkCertificateRevocation.reason',
    });
  });

  it('is disabled with acknowledgement and a reason, which is kept for the audit', () => {
    const request = parseRequest(validInput({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: ' CA unreachable, ticket 123 ' } }));
    expect(request.crl).toEqual({ set: true, disable: true, reason: 'CA unreachable, ticket 123' });
  });

  it('refuses a reason with control characters', () => {
    expect(refusalOf(validInput({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'a\nb' } }))).toMatchObject({
      code: 'INVALID_REQUEST',
      field: 'checkCertificateRevocation.reason',
    });
  });

  it('is left to the beacon when the request does not mention it, enabled when it says disable: false', () => {
    expect(parseRequest(validInput()).crl).toEqual({ set: false, disable: false, reason: null });
    expect(parseRequest(validInput({ checkCertificateRevocation: { disable: false } })).crl).toEqual({ set: true, disable: false, reason: null });
  });
});

describe('targets', () => {
  it.each(['i-01234567', 'i-0123456789abcdef0', 'mi-0123456789abcdef0'])('accepts the SSM instance id form %s', (id) => {
    expect(parseRequest(validInput({ target: { instanceIds: [id] } })).target).toEqual({ kind: 'instances', instanceIds: [id] });
  });

  it.each(['i-0123', 'i-0123456789ABCDEF0', 'mi-01234567', 'i-0123456789abcdef01', 'x-0123456789abcdef0', 'i-0123456789abcdef0;rm'])(
    'refuses %s as an instance id',
    (id) => {
      expect(refusalOf(validInput({ target: { instanceIds: ['i-0123456789abcdef0', id] } }))).toMatchObject({
        code: 'INVALID_TARGET',
        field: 'target.instanceIds[1]',
      });
    },
  );

  it('accepts a tag target', () => {
    expect(parseRequest(validInput({ target: { tag: { key: 'flexera:beacon', value: 'true' } } })).target).toEqual({
      kind: 'tag',
      key: 'flexera:beacon',
      value: 'true',
    });
  });

  it('takes exactly one of instanceIds or tag', () => {
    expect(refusalOf(validInput({ target: {} }))).toMatchObject({ code: 'INVALID_TARGET', field: 'target' });
    expect(refusalOf(validInput({ target: { instanceIds: ['i-01234567'], tag: { key: 'a', value: 'b' } } }))).toMatchObject({ code: 'INVALID_TARGET' });
  });

  it('refuses an empty list, duplicates and more than 50 ids', () => {
    expect(refusalOf(validInput({ target: { instanceIds: [] } }))).toMatchObject({ code: 'INVALID_TARGET', field: 'target.instanceIds' });
    expect(refusalOf(validInput({ target: { instanceIds: ['i-01234567', 'i-01234567'] } }))).toMatchObject({ field: 'target.instanceIds[1]' });
    const many = Array.from({ length: 51 }, (_, i) => `i-${i.toString(16).padStart(8, '0')}`);
    expect(refusalOf(validInput({ target: { instanceIds: many } }))).toMatchObject({ code: 'INVALID_TARGET' });
  });

  it('refuses a tag key with quotes or spaces', () => {
    expect(refusalOf(validInput({ target: { tag: { key: 'a"b', value: 'x' } } }))).toMatchObject({ code: 'INVALID_TARGET', field: 'target.tag.key' });
  });
});

describe('accounts', () => {
  it.each([
    ['CORP\\svc-beacon', 'CORP\\svc-beacon'],
    ['corp\\svc.beacon', 'CORP\\svc.beacon'],
    ['svc-beacon@corp.example.com', 'svc-beacon@corp.example.com'],
  ])('a domain account is NETBIOS\\name or a UPN: %s', (name, normalised) => {
    expect(parseRequest(validInput({ account: { kind: 'domain', name, passwordSecretArn: SECRET_ARN } })).account.name).toBe(normalised);
  });

  it.each(['svc-beacon', 'CORP\\a\\b', 'CORP\\svc beacon', 'CORP\\svc"x', 'svc@', 'TOOLONGNETBIOSNAME\\svc', 'CORP\\svc$'])(
    'refuses %j as a domain account',
    (name) => {
      expect(refusalOf(validInput({ account: { kind: 'domain', name, passwordSecretArn: SECRET_ARN } }))).toMatchObject({ code: 'INVALID_ACCOUNT' });
    },
  );

  it('domain and local accounts need exactly one password reference', () => {
    expect(refusalOf(validInput({ account: { kind: 'domain', name: 'CORP\\svc' } }))).toMatchObject({
      code: 'INVALID_ACCOUNT',
      field: 'account.passwordSecretArn',
    });
    expect(
      refusalOf(validInput({ account: { kind: 'local', name: 'svc', passwordSecretArn: SECRET_ARN, passwordParameterName: '/a/b' } })),
    ).toMatchObject({ code: 'INVALID_ACCOUNT' });
  });

  it('accepts a SecureString parameter name or ARN as the password reference', () => {
    for (const ref of ['/beacon-proxy/svc/password', 'beacon.password', 'arn:aws:ssm:eu-west-1:123456789012:parameter/beacon/pw']) {
      expect(parseRequest(validInput({ account: { kind: 'local', name: 'svc', passwordParameterName: ref } })).account.passwordRef).toBe(ref);
    }
  });

  it.each(['arn:aws:s3:::bucket/key', 'arn:aws:secretsmanager:eu-west-1:123:secret:x', 'secret-name'])('refuses %s as a secret ARN', (arn) => {
    expect(refusalOf(validInput({ account: { kind: 'domain', name: 'CORP\\svc', passwordSecretArn: arn } }))).toMatchObject({
      code: 'INVALID_ACCOUNT',
      field: 'account.passwordSecretArn',
    });
  });

  it('a local account is a plain name and will be created when missing', () => {
    const request = parseRequest(validInput({ account: { kind: 'local', name: 'svc-beacon', passwordParameterName: '/p' } }));
    expect(request.account).toMatchObject({ kind: 'local', name: 'svc-beacon' });
    expect(refusalOf(validInput({ account: { kind: 'local', name: 'HOST\\svc', passwordParameterName: '/p' } }))).toMatchObject({ code: 'INVALID_ACCOUNT' });
    expect(refusalOf(validInput({ account: { kind: 'local', name: 'LocalSystem', passwordParameterName: '/p' } }))).toMatchObject({ code: 'INVALID_ACCOUNT' });
  });

  it('a gMSA ends in $ and takes no password reference and no interactive logon', () => {
    expect(parseRequest(validInput({ account: { kind: 'gmsa', name: 'corp\\gmsa-beacon$' } })).account).toEqual({
      kind: 'gmsa',
      name: 'CORP\\gmsa-beacon$',
      passwordRef: null,
      interactiveLogon: false,
    });
    expect(refusalOf(validInput({ account: { kind: 'gmsa', name: 'CORP\\gmsa-beacon' } }))).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name' });
    expect(refusalOf(validInput({ account: { kind: 'gmsa', name: 'CORP\\gmsa$', passwordSecretArn: SECRET_ARN } }))).toMatchObject({
      code: 'INVALID_ACCOUNT',
      field: 'account.passwordSecretArn',
    });
    expect(refusalOf(validInput({ account: { kind: 'gmsa', name: 'CORP\\gmsa$', interactiveLogon: true } }))).toMatchObject({
      code: 'INVALID_ACCOUNT',
      field: 'account.interactiveLogon',
    });
  });

  it('a name ending in $ given as a domain or local account is pointed at kind gmsa (the message says what to change)', () => {
    for (const account of [
      { kind: 'domain', name: 'CORP\\svc-beacon$', passwordSecretArn: SECRET_ARN },
      { kind: 'local', name: 'svc-beacon$', passwordSecretArn: SECRET_ARN },
    ]) {
      const refusal = refusalOf(validInput({ account }));
      expect(refusal).toMatchObject({ code: 'INVALID_ACCOUNT', field: 'account.name' });
      expect(refusal.message).toContain('set account.kind to gmsa');
    }
  });
});

describe('bypass list', () => {
  it('defaults to <local>', () => {
    expect(parseRequest(validInput()).bypass).toEqual(['<local>']);
  });

  it('keeps the order, drops duplicates and puts <local> last', () => {
    expect(parseRequest(validInput({ bypass: ['<local>', '*.Corp.Example', '10.*', '*.corp.example'] })).bypass).toEqual([
      '*.corp.example',
      '10.*',
      '<local>',
    ]);
  });

  it.each(['a;b', 'a b', '"x"', 'x\n', ''])('refuses the entry %j', (entry) => {
    expect(refusalOf(validInput({ bypass: [entry] }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'bypass[0]' });
  });
});

describe('beacon version pin', () => {
  it('defaults to the beacon’s current version, downgrade not allowed', () => {
    expect(parseRequest(validInput()).beaconVersion).toEqual({ pin: 'current', allowDowngrade: false });
  });

  it.each(['latest', 'Latest', 'always use the latest version'])('refuses "%s": an automatic upgrade resets the service account', (pin) => {
    const error = refusalOf(validInput({ beaconVersion: { pin } }));
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', field: 'beaconVersion.pin' });
    expect(error.message).toMatch(/resets the beacon service account/);
  });

  it('accepts a release number and refuses anything else', () => {
    expect(parseRequest(validInput({ beaconVersion: { pin: '13.2.0', allowDowngrade: true } })).beaconVersion).toEqual({ pin: '13.2.0', allowDowngrade: true });
    expect(refusalOf(validInput({ beaconVersion: { pin: 'v13' } }))).toMatchObject({ field: 'beaconVersion.pin' });
  });
});

describe('request id', () => {
  it('refuses an id outside [A-Za-z0-9._-]{1,64}', () => {
    expect(refusalOf(validInput({ requestId: 'a/b' }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'requestId' });
    expect(refusalOf(validInput({ requestId: 'x'.repeat(65) }))).toMatchObject({ field: 'requestId' });
  });

  it.each(['.', '..', '.hidden', '-x', '_x'])('refuses "%s": an id starts with a letter or digit, so its status URL can never be a dot segment', (requestId) => {
    expect(refusalOf(validInput({ requestId }))).toMatchObject({ code: 'INVALID_REQUEST', field: 'requestId' });
  });

  it('is derived from the content and the window it was sent in when absent, so a resent request keeps its idempotency key', () => {
    const { requestId: _omit, ...input } = validInput();
    const sentAt = new Date('2026-03-04T10:00:00Z');
    const first = parseRequest(input, { sentAt }).requestId;
    expect(first).toMatch(/^req-[0-9a-f]{24}-20260304T0000$/);
    expect(parseRequest(JSON.parse(JSON.stringify(input)), { sentAt: new Date('2026-03-04T23:59:59Z') }).requestId).toBe(first);
    expect(parseRequest({ ...input, proxy: 'other:8080' }, { sentAt }).requestId).not.toBe(first);
  });

  it('the same content sent in a later window (a day, weeks later) is a new request that runs again', () => {
    const { requestId: _omit, ...input } = validInput();
    const first = parseRequest(input, { sentAt: new Date('2026-03-04T10:00:00Z') }).requestId;
    const nextDay = parseRequest(input, { sentAt: new Date('2026-03-05T00:00:00Z') }).requestId;
    const weeksLater = parseRequest(input, { sentAt: new Date('2026-03-25T10:00:00Z') }).requestId;
    expect(new Set([first, nextDay, weeksLater]).size).toBe(3);
    expect(weeksLater.slice(0, 28)).toBe(first.slice(0, 28));
  });
});
