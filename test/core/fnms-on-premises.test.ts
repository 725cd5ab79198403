/**
 * The FNMS on-premises adapter's own rules (lambdas/core/fnms/on-premises.ts), beside the stub tests of
 * fnms-inventory.test.ts: how the Windows account is split for NTLM, what the SOAP request may contain,
 * how a fault and each unreadable answer are named, and what happens when the server does not play NTLM.
 * A scripted HTTP server on loopback stands in for IIS where the stub always answers correctly.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BeaconInventoryError } from '../../lambdas/core/fnms/inventory.js';
import {
  COMPLIANCE_API_PATH,
  GET_CUSTOM_VIEW_ACTION,
  type OnPremisesConfigInput,
  createOnPremisesInventory,
  decodeXmlName,
  getCustomViewEnvelope,
  parseGetCustomViewAnswer,
  soapFaultText,
  splitAccount,
} from '../../lambdas/core/fnms/on-premises.js';

const COLUMNS = { name: 'Beacon name', computerName: 'Computer', version: 'Version', status: 'Status', lastContact: 'Last contact' };
const SOAP = 'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"';

function answerXml(rows: string, columns = ['Beacon_x0020_name', 'Computer', 'Version', 'Status', 'Last_x0020_contact']): string {
  const schema = `<xs:schema id="NewDataSet" xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="NewDataSet"><xs:complexType><xs:choice><xs:element name="SearchResults"><xs:complexType><xs:sequence>${columns
    .map((column) => `<xs:element name="${column}" type="xs:string" minOccurs="0" />`)
    .join('')}</xs:sequence></xs:complexType></xs:element></xs:choice></xs:complexType></xs:element></xs:schema>`;
  return `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse xmlns="http://tempuri.org/"><GetCustomViewResult>${schema}<diffgr:diffgram xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">${rows}</NewDataSet></diffgr:diffgram></GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>`;
}
const row = (name: string, version = '13.2.0') =>
  `<SearchResults diffgr:id="SearchResults1" msdata:rowOrder="0" xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><Beacon_x0020_name>${name}</Beacon_x0020_name><Version>${version}</Version><Status>Active</Status></SearchResults>`;

function unreadable(xml: string): BeaconInventoryError {
  try {
    parseGetCustomViewAnswer(xml, 'FNMS GetCustomView');
  } catch (error) {
    expect(error).toBeInstanceOf(BeaconInventoryError);
    return error as BeaconInventoryError;
  }
  throw new Error('expected an unreadable answer');
}

describe('the Windows account and the SOAP request', () => {
  it('DOMAIN\\name gives NTLM the domain and the user; a UPN goes whole as the user with no domain', () => {
    expect(splitAccount('CORP\\svc-fnms')).toEqual({ domain: 'CORP', user: 'svc-fnms' });
    expect(splitAccount('svc-fnms@corp.example')).toEqual({ domain: '', user: 'svc-fnms@corp.example' });
    // A leading backslash names no domain: the whole text is the user.
    expect(splitAccount('\\svc')).toEqual({ domain: '', user: '\\svc' });
  });

  it('GetCustomView carries only the two positive integers, in the documented envelope', () => {
    expect(getCustomViewEnvelope(42, 50_000)).toBe(
      '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">' +
        '<soap:Body><GetCustomView xmlns="http://tempuri.org/"><customViewID>42</customViewID><rowLimit>50000</rowLimit></GetCustomView></soap:Body></soap:Envelope>',
    );
    expect(getCustomViewEnvelope(1, 1)).toContain('<customViewID>1</customViewID><rowLimit>1</rowLimit>');
    for (const [id, limit] of [
      [0, 10],
      [10, 0],
      [1.5, 10],
      [10, 2.5],
      [-1, 10],
      [10, -1],
      [Number.MAX_SAFE_INTEGER + 1, 10],
      [10, Number.NaN],
    ]) {
      expect(() => getCustomViewEnvelope(id!, limit!)).toThrow('customViewID and rowLimit must be positive integers');
    }
  });

  it('XmlConvert names decode every _xHHHH_ escape, upper or lower case hex', () => {
    expect(decodeXmlName('Beacon_x0020_name')).toBe('Beacon name');
    expect(decodeXmlName('a_x002f_b_x002F_c')).toBe('a/b/c');
    expect(decodeXmlName('plain_name')).toBe('plain_name');
    expect(decodeXmlName('_x20_')).toBe('_x20_');
  });
});

describe('SOAP faults', () => {
  it('SOAP 1.1 faultstring, SOAP 1.2 Reason/Text, or a fault without text', () => {
    expect(soapFaultText(`<soap:Envelope ${SOAP}><soap:Body><soap:Fault><faultcode>soap:Server</faultcode><faultstring>Custom view 7 does not exist</faultstring></soap:Fault></soap:Body></soap:Envelope>`)).toBe(
      'Custom view 7 does not exist',
    );
    expect(
      soapFaultText(
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">Server busy</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>',
      ),
    ).toBe('Server busy');
    expect(soapFaultText(`<soap:Envelope ${SOAP}><soap:Body><soap:Fault><faultcode>soap:Server</faultcode></soap:Fault></soap:Body></soap:Envelope>`)).toBe('SOAP fault without faultstring');
  });

  it('not a fault: an answer without one, a page that only mentions the word, or text that is not XML', () => {
    expect(soapFaultText(answerXml(row('B1')))).toBeNull();
    expect(soapFaultText('<html><body>Fault tolerance</body></html>')).toBeNull();
    expect(soapFaultText(`<soap:Envelope ${SOAP}><soap:Body><Faulty>x</Faulty></soap:Body></soap:Envelope>`)).toBeNull();
    expect(soapFaultText('Fault <a><b></a>')).toBeNull();
  });
});

describe('GetCustomView answers that cannot be read, each named', () => {
  it.each([
    ['a DTD (entity expansion)', `<!DOCTYPE x><soap:Envelope ${SOAP}/>`, 'it carries a DTD'],
    ['an ENTITY declaration', `<!ENTITY a "b"><soap:Envelope ${SOAP}/>`, 'it carries a DTD'],
    ['no envelope', '<html><body>Service Unavailable</body></html>', 'no soap:Envelope/soap:Body'],
    ['no body', `<soap:Envelope ${SOAP}><soap:Header/></soap:Envelope>`, 'no soap:Envelope/soap:Body'],
    ['no response', `<soap:Envelope ${SOAP}><soap:Body><Other/></soap:Body></soap:Envelope>`, 'no GetCustomViewResponse'],
    ['no result', `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse><Other>x</Other></GetCustomViewResponse></soap:Body></soap:Envelope>`, 'no GetCustomViewResult'],
    ['no schema', `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse><GetCustomViewResult><NewDataSet/></GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>`, 'no DataSet schema'],
    [
      'a schema without the SearchResults table',
      `<soap:Envelope ${SOAP}><soap:Body><GetCustomViewResponse><GetCustomViewResult><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="Other"><xs:complexType/></xs:element></xs:schema></GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>`,
      'the schema declares no SearchResults table',
    ],
  ])('%s', (_label, xml, why) => {
    const error = unreadable(xml);
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_UNREADABLE', operation: 'getCustomView', retriable: false });
    expect(error.message).toBe(`FNMS GetCustomView: the answer is not a GetCustomView DataSet (${why})`);
  });

  it('XML that is not well-formed names the parser\'s first line only', () => {
    const error = unreadable(`<soap:Envelope ${SOAP}><soap:Body></soap:Envelope>`);
    expect(error.message).toMatch(/^FNMS GetCustomView: the answer is not a GetCustomView DataSet \(not well-formed XML: [^\n]+\)$/);
  });

  it('rows: cells by decoded column name, diffgram attributes left out, an absent cell absent and an empty one empty', () => {
    const table = parseGetCustomViewAnswer(answerXml(`${row('B &amp; 1')}<SearchResults><Beacon_x0020_name>B2</Beacon_x0020_name><Version /></SearchResults>`), 'x');
    expect(table.columns).toEqual(['Beacon name', 'Computer', 'Version', 'Status', 'Last contact']);
    expect(table.rows).toEqual([
      { 'Beacon name': 'B & 1', Version: '13.2.0', Status: 'Active' },
      { 'Beacon name': 'B2', Version: '' },
    ]);
  });

  it('a schema with the table but no row: no rows (the adapter refuses it as empty)', () => {
    expect(parseGetCustomViewAnswer(answerXml(''), 'x')).toEqual({ columns: ['Beacon name', 'Computer', 'Version', 'Status', 'Last contact'], rows: [] });
  });
});

/** A loopback HTTP server answering each request with the next scripted handler. */
let server: Server | undefined;
const seen: Array<{ authorization: string | undefined; soapaction: string | undefined; contentType: string | undefined; body: string; socket: unknown }> = [];

async function serve(...handlers: Array<(request: IncomingMessage, response: ServerResponse) => void>): Promise<string> {
  seen.length = 0;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ authorization: request.headers.authorization, soapaction: request.headers.soapaction as string | undefined, contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8'), socket: request.socket });
      const handler = handlers.shift() ?? ((_, res) => res.writeHead(500).end());
      handler(request, response);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

function adapter(url: string, overrides: Partial<OnPremisesConfigInput> = {}, getSecret: () => Promise<string> = async () => 'Passw0rd!') {
  let reads = 0;
  const inventory = createOnPremisesInventory(
    { kind: 'onPremises', url, reportId: 7, account: 'CORP\\svc-fnms', columns: COLUMNS, retry: { maxAttempts: 1, timeoutMs: 2000 }, ...overrides },
    {
      getSecret: async () => {
        reads += 1;
        return getSecret();
      },
      sleep: async () => undefined,
      random: () => 0.5,
    },
  );
  return { inventory, reads: () => reads };
}

async function failure(promise: Promise<unknown>): Promise<BeaconInventoryError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BeaconInventoryError);
    return error as BeaconInventoryError;
  }
  throw new Error('expected the read to fail');
}

const ok = (xml: string) => (_: IncomingMessage, response: ServerResponse) => response.writeHead(200, { 'content-type': 'text/xml' }).end(xml);

describe('the SOAP call over HTTP when the server does not play NTLM as expected', () => {
  it('a server that answers without asking for authentication: its answer is read as is (no second message)', async () => {
    const url = await serve(ok(answerXml(row('B1') + row('B2', '13.3.0'))));
    const { inventory } = adapter(url);
    await expect(inventory.listBeacons()).resolves.toEqual([
      { name: 'B1', computerName: 'B1', version: '13.2.0', status: 'Active', lastContact: null },
      { name: 'B2', computerName: 'B2', version: '13.3.0', status: 'Active', lastContact: null },
    ]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.authorization).toMatch(/^NTLM \S+$/);
    expect(seen[0]!.soapaction).toBe(`"${GET_CUSTOM_VIEW_ACTION}"`);
    expect(seen[0]!.contentType).toBe('text/xml; charset=utf-8');
    expect(seen[0]!.body).toBe('');
  });

  it('the service path is appended to the configured URL\'s own path, without a doubled slash', async () => {
    const url = await serve(ok(answerXml(row('B1'))));
    let path = '';
    server!.prependListener('request', (request: IncomingMessage) => {
      path = request.url ?? '';
    });
    await adapter(`${url}/fnms/`).inventory.listBeacons();
    expect(path).toBe(`/fnms${COMPLIANCE_API_PATH}`);
  });

  it('a 401 that offers only Negotiate (Kerberos): an auth error saying to enable NTLM in IIS, not retried', async () => {
    const url = await serve((_, response) => response.writeHead(401, { 'www-authenticate': ['Negotiate', 'Basic realm="fnms"'] }).end());
    const error = await failure(adapter(url, { retry: { maxAttempts: 3, timeoutMs: 2000 } }).inventory.listBeacons());
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_AUTH', operation: 'getCustomView', status: 401, retriable: false });
    expect(error.message).toBe(
      'FNMS GetCustomView (POST /ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx, custom view 7): the server did not answer the NTLM negotiation (it offers Negotiate, Basic realm="fnms"); enable Windows authentication with the NTLM provider on the ManageSoftServices application in IIS',
    );
    expect(seen).toHaveLength(1);
  });

  it('a 401 with no WWW-Authenticate at all says it offers nothing', async () => {
    const url = await serve((_, response) => response.writeHead(401).end());
    expect((await failure(adapter(url).inventory.listBeacons())).message).toMatch(/did not answer the NTLM negotiation \(it offers nothing\)/);
  });

  it('an NTLM challenge that cannot be decoded is an auth error naming why', async () => {
    const url = await serve((_, response) => response.writeHead(401, { 'www-authenticate': 'NTLM bm90LWEtY2hhbGxlbmdl' }).end());
    const error = await failure(adapter(url).inventory.listBeacons());
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_AUTH', status: 401 });
    expect(error.message).toMatch(/^FNMS GetCustomView \(POST .+, custom view 7\): the server's NTLM challenge could not be read \([^:]*\)$/);
  });

  it('the password secret: read once and kept; unreadable is a retriable auth error naming only the error type; empty is final', async () => {
    const url = await serve(ok(answerXml(row('B1'))), ok(answerXml(row('B1'))));
    const kept = adapter(url);
    await kept.inventory.listBeacons();
    await kept.inventory.listBeacons();
    expect(kept.reads()).toBe(1);

    const broken = adapter(url, {}, async () => {
      throw new SyntaxError('Unexpected token P in "Passw0rd!"');
    });
    const unreadableSecret = await failure(broken.inventory.listBeacons());
    expect(unreadableSecret.toJSON()).toMatchObject({ code: 'INVENTORY_AUTH', field: 'fnmsSecretName', retriable: true });
    expect(unreadableSecret.message).toBe('FNMS GetCustomView (POST /ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx, custom view 7): the password secret could not be read (SyntaxError)');
    const empty = await failure(adapter(url, {}, async () => '').inventory.listBeacons());
    expect(empty.toJSON()).toMatchObject({ code: 'INVENTORY_AUTH', field: 'fnmsSecretName', retriable: false });
    expect(empty.message).toMatch(/the password secret is empty$/);
  });

  it('a 500 that is not a SOAP fault is a server failure, retried', async () => {
    const url = await serve((_, response) => response.writeHead(500).end('<html>Internal error</html>'), ok(answerXml(row('B1'))));
    await expect(adapter(url, { retry: { maxAttempts: 2, timeoutMs: 2000 } }).inventory.listBeacons()).resolves.toHaveLength(1);
  });

  it('a SOAP fault names the fault, cut to 300 characters, and never the password', async () => {
    const long = `Login failed for Passw0rd! ${'x'.repeat(400)}`;
    const url = await serve((_, response) => response.writeHead(500, { 'content-type': 'text/xml' }).end(`<soap:Envelope ${SOAP}><soap:Body><soap:Fault><faultstring>${long}</faultstring></soap:Fault></soap:Body></soap:Envelope>`));
    const { inventory } = adapter(url);
    const error = await failure(inventory.listBeacons());
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_SOAP_FAULT', status: 500, field: 'fnmsReportId', retriable: false });
    expect(error.message).not.toContain('Passw0rd!');
    expect(error.message).toBe(`FNMS GetCustomView (POST /ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx, custom view 7) answered a SOAP fault: ${long.slice(0, 300).replace('Passw0rd!', '[redacted]')}; check fnmsReportId and the report`);
  });

  it('the row limit: one row under it is read; at it the answer may be truncated', async () => {
    const url = await serve(ok(answerXml(row('B1') + row('B2'))), ok(answerXml(row('B1') + row('B2'))));
    await expect(adapter(url, { rowLimit: 3 }).inventory.listBeacons()).resolves.toHaveLength(2);
    const error = await failure(adapter(url, { rowLimit: 2 }).inventory.listBeacons());
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_TRUNCATED', field: 'fnmsRowLimit' });
    expect(error.message).toBe('FNMS custom view 7 answered 2 rows, the row limit: beacons may be missing; raise fnmsRowLimit');
  });

  it('no rows: an error naming the custom view and the setting, not an empty fleet', async () => {
    const url = await serve(ok(answerXml('')));
    const error = await failure(adapter(url).inventory.listBeacons());
    expect(error.toJSON()).toMatchObject({ code: 'INVENTORY_EMPTY', field: 'fnmsReportId' });
    expect(error.message).toBe("FNMS custom view 7 answered no rows; FNMS knows at least one beacon, so check the report's filters and that the account may see beacons");
  });

  it('an invalid configuration is refused at creation, naming the field', () => {
    expect(() => adapter('https://fnms.corp.example', { reportId: 0 })).toThrow(/^invalid FNMS on-premises inventory configuration at reportId: /);
    expect(() => adapter('https://fnms.corp.example', { workstation: 'NOT A NAME' })).toThrow(/at workstation: /);
  });
});
