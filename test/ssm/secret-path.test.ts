// The real Windows layer's secret path (Get-BpSecret: credentials, region, SigV4, the HTTP calls) runs here
// under pwsh against local stubs of IMDS, Secrets Manager and Parameter Store. The base URLs are pointed at
// the stubs by the test-only BEACON_PROXY_TEST_ENDPOINTS; every request is checked against SigV4.
import { createHash, createHmac } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { documentScriptText, loadBeaconDocuments, SOURCE_DIR } from '../../ssm-documents/documents.js';
import { loadModuleScript, runPwshScript, scenarioDir } from './helpers.js';

const PASSWORD = 'Real-Layer#Pa55';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';
const PARAMETER = '/beacon-proxy/svc-beacon/password';
const IMDS_KEYS = { AccessKeyId: 'ASIAIMDSEXAMPLE', SecretAccessKey: 'imds/secret/key', Token: 'imds-session-token' };
const FILE_KEYS = { id: 'AKIAHYBRIDEXAMPLE', secret: 'hybrid/secret/key', token: 'hybrid-session-token' };

interface Seen {
  target: string;
  host: string;
  accessKey: string;
  signatureOk: boolean;
  token: string | undefined;
  viaProxy: boolean;
}

const seen: Seen[] = [];
const imdsCalls: string[] = [];
let server: Server;
let base = '';

function hmac(key: Buffer | string, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/** Recomputes the SigV4 signature of a JSON POST with the secret key of the access key it names. */
function verifySigV4(request: IncomingMessage, body: string): { accessKey: string; ok: boolean } {
  const authorization = String(request.headers.authorization ?? '');
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!match) return { accessKey: '', ok: false };
  const [, accessKey, date, region, service, signedHeaders, signature] = match as unknown as string[];
  const secret = accessKey === IMDS_KEYS.AccessKeyId ? IMDS_KEYS.SecretAccessKey : accessKey === FILE_KEYS.id ? FILE_KEYS.secret : '';
  // The redirected call carries "host:80" (.NET Core adds the stub's scheme port to an overridden Host);
  // AWS itself gets the plain host name the script signed.
  const header = (name: string) => String(request.headers[name] ?? '').trim().replace(name === 'host' ? /:80$/ : /$^/, '');
  const canonicalHeaders = signedHeaders!.split(';').map((name) => `${name}:${header(name)}\n`).join('');
  const canonical = ['POST', '/', '', canonicalHeaders, signedHeaders, createHash('sha256').update(body).digest('hex')].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(request.headers['x-amz-date']), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = hmac(`AWS4${secret}`, date!);
  for (const part of [region!, service!, 'aws4_request']) key = hmac(key, part);
  return { accessKey: accessKey!, ok: secret !== '' && hmac(key, toSign).toString('hex') === signature };
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      const url = request.url ?? '/';
      const send = (status: number, payload: string, type = 'text/plain') => {
        response.writeHead(status, { 'content-type': type });
        response.end(payload);
      };
      if (url.startsWith('/latest/')) {
        imdsCalls.push(`${request.method} ${url}`);
        if (request.method === 'PUT' && url === '/latest/api/token') return send(200, 'imds-v2-token');
        if (request.headers['x-aws-ec2-metadata-token'] !== 'imds-v2-token') return send(401, '');
        if (url === '/latest/meta-data/iam/security-credentials/') return send(200, 'beacon-role\n');
        if (url === '/latest/meta-data/iam/security-credentials/beacon-role') return send(200, JSON.stringify({ Code: 'Success', ...IMDS_KEYS }));
        if (url === '/latest/meta-data/placement/region') return send(200, 'eu-west-1');
        return send(404, '');
      }
      const target = String(request.headers['x-amz-target'] ?? '');
      const signature = verifySigV4(request, body);
      seen.push({ target, host: String(request.headers.host).replace(/:80$/, ''), accessKey: signature.accessKey, signatureOk: signature.ok, token: request.headers['x-amz-security-token'] as string | undefined, viaProxy: url.startsWith('http') });
      if (!signature.ok) return send(403, JSON.stringify({ __type: 'InvalidSignatureException', message: `the body was ${body}` }), 'application/x-amz-json-1.1');
      const input = JSON.parse(body) as { SecretId?: string; Name?: string; WithDecryption?: boolean };
      if (target === 'secretsmanager.GetSecretValue' && input.SecretId === SECRET_ARN) {
        return send(200, JSON.stringify({ ARN: SECRET_ARN, SecretString: JSON.stringify({ username: 'CORP\\svc-beacon', password: PASSWORD }), VersionId: 'v-2026-11' }), 'application/x-amz-json-1.1');
      }
      if (target === 'AmazonSSM.GetParameter' && input.Name === PARAMETER && input.WithDecryption === true) {
        return send(200, JSON.stringify({ Parameter: { Name: PARAMETER, Value: PASSWORD, Version: 7 } }), 'application/x-amz-json-1.1');
      }
      return send(400, JSON.stringify({ __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', message: `no such thing as ${body}` }), 'application/x-amz-json-1.1');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A port nothing listens on: a proxy that refuses, an IMDS that does not exist. */
const CLOSED = 'http://127.0.0.1:9';

async function fetchSecret(reference: string, env: Record<string, string>): Promise<{ ok?: { password: string; version: string }; error?: { code: string; message: string } }> {
  const layer = join(SOURCE_DIR, 'WindowsLayer.ps1').replace(/'/g, "''");
  const script = `${loadModuleScript()}. '${layer}'
try { $secret = Read-BpPassword '${reference}'; [Console]::Out.WriteLine((ConvertTo-BpJson ([ordered]@{ ok = $secret }))) }
catch { [Console]::Out.WriteLine((ConvertTo-BpJson ([ordered]@{ error = [ordered]@{ code = [string]$_.Exception.Data['BpCode']; message = (Protect-BpText $_.Exception.Message) } }))) }
`;
  const saved = { ...process.env };
  // A machine-wide proxy that refuses everything: the script's own AWS calls must not go through it.
  Object.assign(process.env, { HTTP_PROXY: CLOSED, HTTPS_PROXY: CLOSED, http_proxy: CLOSED, https_proxy: CLOSED, ...env });
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE']) {
    if (!(name in env)) delete process.env[name];
  }
  try {
    const run = await runPwshScript(script);
    if (run.exitCode !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout.trim()) as never;
  } finally {
    process.env = saved;
  }
}

describe('the real layer reads the password with the credentials the agent provides, through no proxy', () => {
  test('EC2: IMDSv2 credentials sign GetSecretValue (SigV4 checked), a JSON secret gives its "password" and its version', async () => {
    const before = seen.length;
    const answer = await fetchSecret(SECRET_ARN, { BEACON_PROXY_TEST_ENDPOINTS: JSON.stringify({ imds: base, aws: base }), USERPROFILE: scenarioDir('no-profile') });
    expect(answer.ok).toEqual({ password: PASSWORD, version: 'v-2026-11' });
    expect(seen.slice(before)).toEqual([
      { target: 'secretsmanager.GetSecretValue', host: 'secretsmanager.eu-west-1.amazonaws.com', accessKey: IMDS_KEYS.AccessKeyId, signatureOk: true, token: IMDS_KEYS.Token, viaProxy: false },
    ]);
    expect(imdsCalls).toContain('PUT /latest/api/token');
  });

  test('a parameter given by name takes its region from IMDS and is read WithDecryption', async () => {
    const before = seen.length;
    const answer = await fetchSecret(PARAMETER, { BEACON_PROXY_TEST_ENDPOINTS: JSON.stringify({ imds: base, aws: base }), USERPROFILE: scenarioDir('no-profile') });
    expect(answer.ok).toEqual({ password: PASSWORD, version: '7' });
    expect(seen.slice(before).map((entry) => [entry.target, entry.host, entry.signatureOk])).toEqual([['AmazonSSM.GetParameter', 'ssm.eu-west-1.amazonaws.com', true]]);
  });

  test('hybrid (mi-) node: no IMDS, the shared credentials file of the agent signs the call', async () => {
    const file = join(scenarioDir('hybrid'), 'credentials');
    writeFileSync(file, `[default]\naws_access_key_id = ${FILE_KEYS.id}\naws_secret_access_key = ${FILE_KEYS.secret}\naws_session_token = ${FILE_KEYS.token}\n`);
    const before = seen.length;
    const answer = await fetchSecret(SECRET_ARN, { BEACON_PROXY_TEST_ENDPOINTS: JSON.stringify({ imds: CLOSED, aws: base }), AWS_SHARED_CREDENTIALS_FILE: file });
    expect(answer.ok?.password).toBe(PASSWORD);
    expect(seen.slice(before)).toMatchObject([{ accessKey: FILE_KEYS.id, token: FILE_KEYS.token, signatureOk: true }]);
  });

  test('hybrid node: a parameter given by name has no region to be found, so the run asks for its ARN (SECRET_REGION_UNKNOWN)', async () => {
    const file = join(scenarioDir('hybrid-name'), 'credentials');
    writeFileSync(file, `[default]\naws_access_key_id = ${FILE_KEYS.id}\naws_secret_access_key = ${FILE_KEYS.secret}\n`);
    const answer = await fetchSecret(PARAMETER, { BEACON_PROXY_TEST_ENDPOINTS: JSON.stringify({ imds: CLOSED, aws: base }), AWS_SHARED_CREDENTIALS_FILE: file });
    expect(answer.error?.code).toBe('SECRET_REGION_UNKNOWN');
    expect(answer.error?.message).toMatch(/give the parameter as an ARN/);
  });

  test('an AWS error names its type only, never the body it came with', async () => {
    const answer = await fetchSecret(`${SECRET_ARN}-missing`, { BEACON_PROXY_TEST_ENDPOINTS: JSON.stringify({ imds: base, aws: base }), USERPROFILE: scenarioDir('no-profile') });
    expect(answer.error?.code).toBe('SECRET_NOT_FOUND');
    expect(answer.error?.message).toContain('ResourceNotFoundException');
    expect(answer.error?.message).not.toContain('no such thing');
  });
});

describe('TLS 1.2 before any HTTPS call', () => {
  test('the document prelude turns TLS 1.2 on, whatever the process started with', async () => {
    const script = documentScriptText(loadBeaconDocuments().verify);
    const prelude = script.slice(0, script.indexOf('$BpModule = @{'));
    const file = join(scenarioDir('tls'), 'prelude.ps1');
    writeFileSync(file, prelude);
    const run = await runPwshScript(`[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls11\n. '${file}'\n[Console]::Out.WriteLine([int]([Net.ServicePointManager]::SecurityProtocol -band [Net.SecurityProtocolType]::Tls12))`);
    expect(run.stdout.trim()).toBe(String(3072));
  });
});
