/**
 * The on-premises adapter on the wire (lambdas/core/fnms/on-premises.ts), against a scripted server on
 * loopback: the NTLM handshake over TLS on one connection (closed afterwards), the certificate checked,
 * which challenge headers are understood, the hints for refused statuses, a fault outside a 500, an answer
 * cut mid-body, and the operation every inventory error names.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BeaconInventoryError } from '../../lambdas/core/fnms/inventory.js';
import { rejection } from '../support/refusal.js';
import { type OnPremisesConfigInput, createOnPremisesInventory, parseGetCustomViewAnswer, soapFaultText } from '../../lambdas/core/fnms/on-premises.js';
import { createChallenge, decodeNtlmMessage, verifyAuthenticate } from '../../local/fnms-stub/ntlm.js';

/**
 * A throwaway self-signed certificate for 127.0.0.1, made fresh for each run with openssl (part of the
 * machine's base system): no private key, however worthless, is kept in the repository.
 */
function selfSignedLoopback(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-tls-'));
  try {
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const { cert: CERT, key: KEY } = selfSignedLoopback();

const COLUMNS = { name: 'Beacon name', computerName: 'Computer', version: 'Version', status: 'Status', lastContact: 'Last contact' };
const SOAP = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"';
const ACCOUNT = { domain: 'CORP', user: 'svc-fnms', password: 'Passw0rd!' };
const WHAT = 'FNMS GetCustomView (POST /ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx, custom view 7)';

function answerXml(rows: string, schemaExtra = ''): string {
  const columns = ['Beacon_x0020_name', 'Computer', 'Version', 'Status', 'Last_x0020_contact'];
  const schema = `<xs:schema id="NewDataSet" xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="NewDataSet">${schemaExtra}<xs:complexType><xs:choice><xs:element name="SearchResults"><xs:complexType><xs:sequence>${columns
    .map((column) => `<xs:element name="${column}" type="xs:string" minOccurs="0" />`)
    .join('')}</xs:sequence></xs:complexType></xs:element></xs:choice></xs:complexType></xs:element></xs:schema>`;
  return `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse xmlns="http://tempuri.org/"><GetCustomViewResult>${schema}<diffgr:diffgram xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">${rows}</NewDataSet></diffgr:diffgram></GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>`;
}
const row = (name: string) => `<SearchResults><Beacon_x0020_name>${name}</Beacon_x0020_name><Version>13.2.0</Version></SearchResults>`;
const envelope = (result: string) => `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse><GetCustomViewResult>${result}</GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>`;

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;
let server: Server | undefined;
const sockets: Socket[] = [];
const requests: Array<{ method: string | undefined; url: string | undefined; accept: string | undefined; socket: Socket; authorization: string | undefined }> = [];

async function serve(kind: 'http' | 'https', ...handlers: Handler[]): Promise<string> {
  requests.length = 0;
  sockets.length = 0;
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method, url: request.url, accept: request.headers.accept, socket: request.socket, authorization: request.headers.authorization });
      (handlers.shift() ?? ((_, res) => res.writeHead(500).end()))(request, response, Buffer.concat(chunks).toString('utf8'));
    });
  };
  server = kind === 'https' ? createHttpsServer({ cert: CERT, key: KEY }, onRequest) : createHttpServer(onRequest);
  server.on(kind === 'https' ? 'secureConnection' : 'connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `${kind}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function adapter(url: string, overrides: Partial<OnPremisesConfigInput> = {}) {
  return createOnPremisesInventory(
    { kind: 'onPremises', url, reportId: 7, account: 'CORP\\svc-fnms', columns: COLUMNS, retry: { maxAttempts: 1, timeoutMs: 3000 }, ...overrides },
    { getSecret: async () => ACCOUNT.password, sleep: async () => undefined, random: () => 0.5 },
  );
}

async function failure(promise: Promise<unknown>): Promise<ReturnType<BeaconInventoryError['toJSON']>> {
  return (await rejection(promise, BeaconInventoryError)).toJSON();
}

/** The NTLM challenge, then the authenticated answer, checking the password and that both came on one connection. */
function ntlm(answer: string, challengeHeader = (header: string) => header): Handler[] {
  let challenge: Buffer | null = null;
  let first: Socket | null = null;
  return [
    (request, response) => {
      first = request.socket;
      const created = createChallenge('CORP', 'FNMS01');
      challenge = created.challenge;
      response.writeHead(401, { 'www-authenticate': challengeHeader(created.header) }).end();
    },
    (request, response) => {
      const message = decodeNtlmMessage(request.headers.authorization, 3);
      const verdict = message && challenge ? verifyAuthenticate(message, challenge, [ACCOUNT]) : { ok: false };
      if (!verdict.ok || request.socket !== first) {
        response.writeHead(401).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(answer);
    },
  ];
}


/** Whether the socket is closed within `ms` (the client's own close, not the server's keep-alive timeout). */
function closedWithin(socket: { closed: boolean; once(event: 'close', listener: () => void): unknown }, ms: number): Promise<boolean> {
  if (socket.closed) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('GetCustomView over TLS', () => {
  let defaults: string[] = [];
  beforeAll(() => {
    defaults = tls.getCACertificates('default');
  });
  afterAll(() => {
    tls.setDefaultCACertificates(defaults);
  });

  it('a certificate the Lambda does not trust is refused: TLS is used and checked', async () => {
    const url = await serve('https', ...ntlm(answerXml(row('B1'))));
    const error = await failure(adapter(url).listBeacons());
    expect(error).toMatchObject({ code: 'INVENTORY_NETWORK', operation: 'getCustomView', message: expect.stringMatching(/connection failed \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/) });
  });

  it('with the certificate trusted: the NTLM handshake on one kept-alive TLS connection, closed afterwards', async () => {
    tls.setDefaultCACertificates([...defaults, CERT]);
    const url = await serve('https', ...ntlm(answerXml(row('B1'))));
    const inventory = adapter(url);
    expect(inventory.source).toBe('onPremises');
    await expect(inventory.listBeacons()).resolves.toEqual([{ name: 'B1', computerName: 'B1', version: '13.2.0', status: null, lastContact: null }]);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.socket).toBe(requests[1]!.socket);
    // The client closes it (the server would only after its 5 s keep-alive timeout).
    expect(await closedWithin(requests[0]!.socket, 1_000)).toBe(true);
  });
});

describe('GetCustomView over HTTP: the handshake and its headers', () => {
  it('POST with accept text/xml, then the answer; the connection is closed after the attempt', async () => {
    const url = await serve('http', ...ntlm(answerXml(row('B1'))));
    await expect(adapter(`${url}//`).listBeacons()).resolves.toHaveLength(1);
    expect(requests.map((r) => [r.method, r.url, r.accept])).toEqual([
      ['POST', '/ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx', 'text/xml'],
      ['POST', '/ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx', 'text/xml'],
    ]);
    // The client closes it (the server would only after its 5 s keep-alive timeout).
    expect(await closedWithin(requests[0]!.socket, 1_000)).toBe(true);
  });

  it.each([
    ['offered after Negotiate without a space', (header: string) => `Negotiate,${header}`],
    ['offered after Negotiate', (header: string) => `Negotiate, ${header}`],
    ['offered before Negotiate', (header: string) => `${header}, Negotiate`],
  ])('an NTLM challenge %s is found', async (_label, shape) => {
    const url = await serve('http', ...ntlm(answerXml(row('B1')), shape));
    await expect(adapter(url).listBeacons()).resolves.toHaveLength(1);
  });

  it('a challenge written with two spaces is taken as NTLM (the library then names why it cannot read it)', async () => {
    const url = await serve('http', ...ntlm(answerXml(row('B1')), (header) => header.replace('NTLM ', 'NTLM  ')));
    expect((await failure(adapter(url).listBeacons())).message).toBe(`${WHAT}: the server's NTLM challenge could not be read (Invalid message signature)`);
  });

  it('a challenge that is not NTLM: named with the library\'s reason', async () => {
    const url = await serve('http', (_, response) => response.writeHead(401, { 'www-authenticate': 'NTLM bm90LWEtY2hhbGxlbmdl' }).end());
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'getCustomView', status: 401, message: `${WHAT}: the server's NTLM challenge could not be read (Invalid message signature)` });
  });

  it('403 and 404 say what to check', async () => {
    const forbidden = await serve('http', (_, response) => response.writeHead(403).end());
    expect((await failure(adapter(forbidden).listBeacons())).message).toBe(`${WHAT} failed: 403 the account CORP\\svc-fnms may not use the web service; give it the FNMS Webservice role`);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    const missing = await serve('http', (_, response) => response.writeHead(404).end());
    expect((await failure(adapter(missing).listBeacons())).message).toBe(`${WHAT} failed: 404 no ComplianceAPIService at /ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx; check fnmsUrl`);
  });

  it('a fault in an answer that is not a 500 is an HTTP failure, not a SOAP fault', async () => {
    const url = await serve('http', (_, response) => response.writeHead(400).end(`<soap:Envelope ${SOAP}><soap:Body><soap:Fault><faultstring>bad</faultstring></soap:Fault></soap:Body></soap:Envelope>`));
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_HTTP', status: 400 });
  });

  it('an answer cut mid-body is a network failure at once, not a wait for the timeout', async () => {
    const url = await serve('http', (_, response) => {
      response.writeHead(200, { 'content-length': '1000' });
      response.write('<soap:Envelope');
      setTimeout(() => response.socket?.destroy(), 20);
    });
    const started = performance.now();
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_NETWORK', retriable: true });
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it('every inventory error names getCustomView: columns, no rows, truncated, a nameless row (counted from 1)', async () => {
    const url = await serve(
      'http',
      ...ntlm(envelope('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="SearchResults"><xs:complexType><xs:sequence><xs:element name="X"/></xs:sequence></xs:complexType></xs:element></xs:schema>')),
      ...ntlm(answerXml('')),
      ...ntlm(answerXml(row('B1') + row('B2'))),
      ...ntlm(answerXml(row('B1') + row(''))),
    );
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_COLUMN_MISSING', operation: 'getCustomView' });
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_EMPTY', operation: 'getCustomView' });
    expect(await failure(adapter(url, { rowLimit: 2 }).listBeacons())).toMatchObject({ code: 'INVENTORY_TRUNCATED', operation: 'getCustomView' });
    expect(await failure(adapter(url).listBeacons())).toMatchObject({ code: 'INVENTORY_UNREADABLE', operation: 'getCustomView', message: expect.stringMatching(/^FNMS custom view 7: row 2 has an empty "Beacon name"/) });
  });

  it('the secret\'s failures name getCustomView too', async () => {
    const broken = createOnPremisesInventory(
      { kind: 'onPremises', url: 'http://127.0.0.1:9', reportId: 7, account: 'CORP\\svc-fnms', columns: COLUMNS },
      { getSecret: async () => Promise.reject(new Error('x')) },
    );
    expect(await failure(broken.listBeacons())).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'getCustomView' });
    const empty = createOnPremisesInventory({ kind: 'onPremises', url: 'http://127.0.0.1:9', reportId: 7, account: 'CORP\\svc-fnms', columns: COLUMNS }, { getSecret: async () => '' });
    expect(await failure(empty.listBeacons())).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'getCustomView' });
  });

  it('an invalid configuration names the nested field, or $ for the whole', () => {
    expect(() => adapter('https://fnms.corp.example', { retry: { timeoutMs: 0 } })).toThrow(/^invalid FNMS on-premises inventory configuration at retry\.timeoutMs: /);
    expect(() => createOnPremisesInventory(null as never, { getSecret: async () => 'x' })).toThrow(/^invalid FNMS on-premises inventory configuration at \$: /);
  });
});

describe('GetCustomView answers at their edges', () => {
  const read = (xml: string) => parseGetCustomViewAnswer(xml, 'FNMS GetCustomView');
  const unreadable = (xml: string): string => {
    try {
      read(xml);
    } catch (error) {
      expect(error).toBeInstanceOf(BeaconInventoryError);
      return (error as Error).message;
    }
    throw new Error('expected an unreadable answer');
  };

  it('a result that is only text has no result element to read', () => {
    expect(unreadable(envelope('oops'))).toBe('FNMS GetCustomView: the answer is not a GetCustomView DataSet (no GetCustomViewResult)');
  });

  it('XML that is not well-formed names the parser\'s whole first line', () => {
    expect(unreadable('<soap:Envelope<')).toMatch(/\(not well-formed XML: .{10,}\)$/);
  });

  it('cells with attributes: their text, or empty; text outside the cells and empty rows are ignored', () => {
    const xml = answerXml('<SearchResults>stray<Beacon_x0020_name xml:space="preserve">B1</Beacon_x0020_name><Version xml:space="preserve"/></SearchResults><SearchResults/>');
    expect(read(xml).rows).toEqual([{ 'Beacon name': 'B1', Version: '' }]);
  });

  it('the table is found wherever the schema declares it, after other declarations', () => {
    expect(read(answerXml(row('B1'), '<xs:annotation><xs:documentation>x</xs:documentation></xs:annotation>')).columns).toEqual(['Beacon name', 'Computer', 'Version', 'Status', 'Last contact']);
  });

  it('a table declared without columns, or a column without a name, reads as such (the mapping check then names what is missing)', () => {
    const schema = (table: string) => envelope(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">${table}</xs:schema>`);
    expect(read(schema('<xs:element name="SearchResults"/>')).columns).toEqual([]);
    expect(read(schema('<xs:element name="SearchResults"><xs:complexType/></xs:element>')).columns).toEqual([]);
    expect(read(schema('<xs:element name="SearchResults"><xs:complexType><xs:sequence><xs:element type="xs:string"/><xs:element name="A"/></xs:sequence></xs:complexType></xs:element>')).columns).toEqual(['', 'A']);
  });

  it('text the XML parser cannot read is no fault', () => {
    expect(soapFaultText('Fault<<')).toBeNull();
  });
});
