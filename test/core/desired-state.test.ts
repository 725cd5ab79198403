import { describe, expect, it } from 'vitest';
import { DOCUMENT_PARAMETERS } from '../../lambdas/core/document-contract.js';
import { decodeDesiredState, documentParameters, renderDesiredState } from '../../lambdas/core/desired-state.js';
import { parseRequest } from '../../lambdas/core/request.js';
import { example, validInput } from '../support/requests.js';

const ROOT64 = 'SOFTWARE\\WOW6432Node\\ManageSoft Corp\\ManageSoft';

function registryOf(input: unknown): Array<[string, string, string | null]> {
  return renderDesiredState(parseRequest(input)).registry.map((entry) => [entry.path, entry.name, entry.value]);
}

describe('FlexNet registry values', () => {
  it('https sets exactly the six proxy values, with the Launcher https_proxy written as http:// (the CRL switch is not touched)', () => {
    expect(registryOf(validInput({ protocol: 'https', proxy: 'proxy.corp.example:8080' }))).toEqual([
      ['Common', 'http_proxy', null],
      ['Common', 'https_proxy', 'https://proxy.corp.example:8080'],
      ['Common\\DownloadSettings\\ReplicatorParent', 'Proxy', 'https://proxy.corp.example:8080'],
      ['Common\\UploadSettings\\ReplicatorParent', 'Proxy', 'https://proxy.corp.example:8080'],
      ['Launcher\\CurrentVersion', 'http_proxy', null],
      ['Launcher\\CurrentVersion', 'https_proxy', 'http://proxy.corp.example:8080'],
    ]);
  });

  it('http is the mirror image: http_proxy set, https_proxy ensured absent', () => {
    expect(registryOf(validInput({ protocol: 'http', proxy: '10.0.0.5:3128' }))).toEqual([
      ['Common', 'http_proxy', 'http://10.0.0.5:3128'],
      ['Common', 'https_proxy', null],
      ['Common\\DownloadSettings\\ReplicatorParent', 'Proxy', 'http://10.0.0.5:3128'],
      ['Common\\UploadSettings\\ReplicatorParent', 'Proxy', 'http://10.0.0.5:3128'],
      ['Launcher\\CurrentVersion', 'http_proxy', 'http://10.0.0.5:3128'],
      ['Launcher\\CurrentVersion', 'https_proxy', null],
    ]);
  });

  it('the scheme written in proxy is ignored: protocol decides', () => {
    const registry = registryOf(validInput({ protocol: 'https', proxy: 'http://p.example:81' }));
    expect(registry).toContainEqual(['Common', 'https_proxy', 'https://p.example:81']);
    const httpRegistry = registryOf(validInput({ protocol: 'http', proxy: 'https://p.example:81' }));
    expect(httpRegistry).toContainEqual(['Common', 'http_proxy', 'http://p.example:81']);
  });

  it('exactly one of http_proxy / https_proxy is set in Common and in Launcher; the other is null', () => {
    for (const protocol of ['http', 'https']) {
      const registry = registryOf(validInput({ protocol }));
      for (const path of ['Common', 'Launcher\\CurrentVersion']) {
        const values = registry.filter(([p, name]) => p === path && name.endsWith('_proxy')).map(([, , value]) => value);
        expect(values.filter((value) => value !== null)).toHaveLength(1);
        expect(values).toHaveLength(2);
      }
    }
  });

  it('CheckCertificateRevocation is "False" only when disabled with acknowledgement', () => {
    const registry = registryOf(validInput({ checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'ticket 1' } }));
    expect(registry).toContainEqual(['Common', 'CheckCertificateRevocation', 'False']);
    expect(registryOf(validInput({ checkCertificateRevocation: { disable: false } }))).toContainEqual(['Common', 'CheckCertificateRevocation', null]);
  });

  it('per-endpoint overrides change only their own values', () => {
    const base = registryOf(validInput());
    const split = registryOf(validInput({ endpoints: { download: 'dl:1', upload: 'ul:2', launcher: 'la:3' } }));
    const changed = split.filter((entry, i) => JSON.stringify(entry) !== JSON.stringify(base[i]));
    expect(changed).toEqual([
      ['Common\\DownloadSettings\\ReplicatorParent', 'Proxy', 'https://dl:1'],
      ['Common\\UploadSettings\\ReplicatorParent', 'Proxy', 'https://ul:2'],
      ['Launcher\\CurrentVersion', 'https_proxy', 'http://la:3'],
    ]);
  });

  it('is sorted by (path, name) and names both registry roots, 64-bit first', () => {
    const state = renderDesiredState(parseRequest(example('split-endpoints')));
    const keys = state.registry.map((entry) => `${entry.path}\u0000${entry.name}`);
    expect(keys).toEqual([...keys].sort());
    expect(state.registryRoots[0]).toBe(ROOT64);
    expect(state.registryRoots).toHaveLength(2);
  });

  it('writes IPv6 proxies in brackets', () => {
    expect(registryOf(example('gmsa'))).toContainEqual(['Common', 'https_proxy', 'https://[2001:db8::10]:8080']);
  });
});

describe('WinINet settings', () => {
  it('one proxy for all: host:port, bypass kept, no auto-config URL, auto-detect left alone', () => {
    const state = renderDesiredState(parseRequest(validInput({ bypass: ['*.corp.example', '<local>'] })));
    expect(state.wininet).toEqual({
      scope: 'account',
      enable: true,
      proxyServer: 'proxy.corp.example:8080',
      bypass: ['*.corp.example', '<local>'],
      autoConfigUrl: null,
      autoDetect: 'keep',
    });
  });

  it('a different wininet endpoint is written per protocol', () => {
    const https = renderDesiredState(parseRequest(validInput({ endpoints: { wininet: 'batch:3128' } })));
    expect(https.wininet.proxyServer).toBe('http=proxy.corp.example:8080;https=batch:3128');
    const http = renderDesiredState(parseRequest(validInput({ protocol: 'http', endpoints: { wininet: 'batch:3128' } })));
    expect(http.wininet.proxyServer).toBe('http=batch:3128;https=proxy.corp.example:8080');
  });

  it('machine scope is carried through', () => {
    expect(renderDesiredState(parseRequest(validInput({ wininetScope: 'machine' }))).wininet.scope).toBe('machine');
  });
});

describe('account, service and tasks', () => {
  it('grants service and batch logon; interactive logon only when asked', () => {
    expect(renderDesiredState(parseRequest(validInput())).account.rights).toEqual(['SeServiceLogonRight', 'SeBatchLogonRight']);
    const interactive = validInput({ account: { kind: 'domain', name: 'CORP\\svc', passwordSecretArn: (validInput().account as { passwordSecretArn: string }).passwordSecretArn, interactiveLogon: true } });
    expect(renderDesiredState(parseRequest(interactive)).account.rights).toContain('SeInteractiveLogonRight');
  });

  it('the account is a local administrator; only a local account is created when missing', () => {
    const domain = renderDesiredState(parseRequest(validInput())).account;
    expect(domain).toMatchObject({ localAdmin: true, createIfMissing: false });
    const local = renderDesiredState(parseRequest(example('http'))).account;
    expect(local).toMatchObject({ kind: 'local', localAdmin: true, createIfMissing: true, passwordRef: '/beacon-proxy/svc-beacon/password' });
  });

  it('a gMSA carries no password reference', () => {
    expect(renderDesiredState(parseRequest(example('gmsa'))).account).toMatchObject({ kind: 'gmsa', passwordRef: null });
  });

  it('restarts the FlexNet Beacon Engine service and runs both upload tasks as the account', () => {
    const state = renderDesiredState(parseRequest(validInput()));
    expect(state.service).toEqual({ displayName: 'FlexNet Beacon Engine', restart: true, startTimeoutSeconds: 120 });
    expect(state.tasks).toEqual(['Upload third party inventory data', 'Upload Flexera logs and inventories']);
    expect(state.taskAliases['Upload Flexera logs and inventories']).toEqual(['Upload FlexNet logs and inventories']);
  });

  it('the task list is configurable', () => {
    const state = renderDesiredState(parseRequest(validInput()), { tasks: ['Upload third party inventory data'], optionalTasks: [] });
    expect(state.tasks).toEqual(['Upload third party inventory data']);
    expect(state.optionalTasks).toEqual([]);
  });

  it('the password never appears, only its reference', () => {
    const text = JSON.stringify(renderDesiredState(parseRequest(validInput())));
    expect(text).not.toMatch(/"password"/i);
  });
});

describe('document parameters', () => {
  it('carry the desired state as one base64 JSON string the allowedPattern accepts', () => {
    const state = renderDesiredState(parseRequest(example('split-endpoints')));
    const parameters = documentParameters(state);
    expect(Object.keys(parameters)).toEqual([DOCUMENT_PARAMETERS.desiredState.name]);
    const [encoded] = parameters[DOCUMENT_PARAMETERS.desiredState.name]!;
    expect(encoded).toMatch(DOCUMENT_PARAMETERS.desiredState.pattern);
    expect(decodeDesiredState(encoded)).toEqual(state);
  });

  it('the same request gives the same bytes', () => {
    const a = documentParameters(renderDesiredState(parseRequest(example('https-one-proxy'))));
    const reordered = JSON.parse(JSON.stringify(example('https-one-proxy')), (_key, value: unknown) =>
      value && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
    );
    expect(documentParameters(renderDesiredState(parseRequest(reordered)))).toEqual(a);
  });
});
