/**
 * FNMS on-premises adapter of the BeaconInventory port, on Flexera's documented SOAP web service:
 *   POST https://<fnms>/ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx
 *   SOAPAction "http://tempuri.org/GetCustomView", body GetCustomView(customViewID, rowLimit)
 * with Windows authentication (NTLM, through @ewsjs/ntlm-client) by an account holding the FNMS Webservice
 * role. NTLM authenticates a connection, not a request, so each attempt runs the three-message handshake on
 * one dedicated keep-alive connection (a node:http(s) Agent limited to one socket; undici's Client would do the
 * same but adds half a megabyte to the Lambda bundle). The answer is a .NET DataSet: an XML schema that
 * declares the SearchResults table's columns, then the rows (`NewDataSet/SearchResults`, usually inside a
 * diffgram); a DataSet omits null cells from a row, so columns are checked against the schema.
 */
import ntlm from '@ewsjs/ntlm-client';

const { createType1Message, createType3Message, decodeType2Message } = ntlm;
import { XMLParser } from 'fast-xml-parser';
import * as http from 'node:http';
import * as https from 'node:https';
import { type BeaconInventory, BeaconInventoryError, type InventoryBeacon, beaconFromRow, requireColumns } from './inventory.js';
import { GET_CUSTOM_VIEW_ACTION, OnPremisesConfigSchema, type OnPremisesConfigInput, SOAP_NAMESPACE } from './on-premises-config.js';
import { type HttpAnswer, type ReportAdapterDeps, createRedactor, createRetryingCaller } from './report-http.js';

export * from './on-premises-config.js';

const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

const CONFIG_KEY = 'fnmsReportColumns';

/** Splits `DOMAIN\name` into NTLM's user and domain; a UPN goes whole as the user with an empty domain. */
export function splitAccount(account: string): { user: string; domain: string } {
  const at = account.indexOf('\\');
  return at > 0 ? { domain: account.slice(0, at), user: account.slice(at + 1) } : { domain: '', user: account };
}

/** The SOAP 1.1 request of GetCustomView. Only two integers vary, checked here: no text reaches the XML. */
export function getCustomViewEnvelope(customViewId: number, rowLimit: number): string {
  if (!Number.isSafeInteger(customViewId) || customViewId <= 0 || !Number.isSafeInteger(rowLimit) || rowLimit <= 0) {
    throw new TypeError('customViewID and rowLimit must be positive integers');
  }
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENVELOPE_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">` +
    `<soap:Body><GetCustomView xmlns="${SOAP_NAMESPACE}"><customViewID>${customViewId}</customViewID><rowLimit>${rowLimit}</rowLimit></GetCustomView></soap:Body>` +
    '</soap:Envelope>'
  );
}

/** XmlConvert.DecodeName: a DataSet writes a column "Beacon name" as `Beacon_x0020_name`. */
export function decodeXmlName(name: string): string {
  return name.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'element' || name === 'SearchResults',
});

type XmlNode = Record<string, unknown>;

const asNode = (value: unknown): XmlNode | null => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as XmlNode) : null);
const asNodes = (value: unknown): XmlNode[] => (Array.isArray(value) ? value.map(asNode).filter((node): node is XmlNode => node !== null) : []);

function textOf(value: unknown): string | null {
  if (typeof value === 'string') return value;
  const node = asNode(value);
  if (node && typeof node['#text'] === 'string') return node['#text'];
  if (node) return '';
  return null;
}

/** Finds the schema's declaration of the table named `table` (an xs:element with that name and a sequence of columns). */
function findTableColumns(node: unknown, table: string): string[] | null {
  for (const element of asNodes(asNode(node)?.element)) {
    if (element['@_name'] === table) {
      const sequence = asNode(asNode(element.complexType)?.sequence);
      return asNodes(sequence?.element).map((column) => decodeXmlName(String(column['@_name'] ?? '')));
    }
  }
  const self = asNode(node);
  if (!self) return null;
  for (const [key, child] of Object.entries(self)) {
    if (key.startsWith('@_')) continue;
    for (const candidate of Array.isArray(child) ? child : [child]) {
      const found = findTableColumns(candidate, table);
      if (found) return found;
    }
  }
  return null;
}

/** The SOAP fault's text when the answer is one. */
export function soapFaultText(xml: string): string | null {
  if (!/Fault/.test(xml)) return null;
  try {
    const fault = asNode(asNode(asNode(parser.parse(xml))?.Envelope)?.Body)?.Fault;
    const node = asNode(fault);
    if (!node) return null;
    return textOf(node.faultstring) ?? textOf(asNode(node.Reason)?.Text) ?? 'SOAP fault without faultstring';
  } catch {
    return null;
  }
}

export interface DataSetTable {
  columns: string[];
  rows: Array<Record<string, string | null>>;
}

/** Reads GetCustomView's answer: the SearchResults columns from the schema, then every row. Throws INVENTORY_UNREADABLE. */
export function parseGetCustomViewAnswer(xml: string, what: string): DataSetTable {
  const unreadable = (why: string) => new BeaconInventoryError('INVENTORY_UNREADABLE', 'getCustomView', `${what}: the answer is not a GetCustomView DataSet (${why})`);
  // SOAP forbids a DTD; refusing one also rules out entity expansion.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw unreadable('it carries a DTD');
  let document: unknown;
  try {
    document = parser.parse(xml, true);
  } catch (error) {
    throw unreadable(`not well-formed XML: ${(error as Error).message.split('\n')[0]}`);
  }
  const body = asNode(asNode(asNode(document)?.Envelope)?.Body);
  if (!body) throw unreadable('no soap:Envelope/soap:Body');
  const response = asNode(body.GetCustomViewResponse);
  if (!response) throw unreadable('no GetCustomViewResponse');
  const result = asNode(response.GetCustomViewResult);
  if (!result) throw unreadable('no GetCustomViewResult');
  const schema = asNode(result.schema);
  if (!schema) throw unreadable('no DataSet schema');
  const columns = findTableColumns(schema, 'SearchResults');
  if (!columns) throw unreadable('the schema declares no SearchResults table');
  const dataSet = asNode(asNode(result.diffgram)?.NewDataSet) ?? asNode(result.NewDataSet);
  const rows = asNodes(dataSet?.SearchResults).map((row) => {
    const record: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(row)) {
      if (key.startsWith('@_') || key === '#text') continue;
      record[decodeXmlName(key)] = textOf(value);
    }
    return record;
  });
  return { columns, rows };
}

function ntlmChallenge(header: string | string[] | undefined): string | null {
  const values = (Array.isArray(header) ? header : header === undefined ? [] : header.split(/,\s*(?=[A-Za-z]+(?:\s|$))/)).map((value) => value.trim());
  const ntlm = values.find((value) => /^NTLM\s+\S+/.test(value));
  return ntlm ?? null;
}

interface RawAnswer {
  statusCode: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One request on the agent's single keep-alive socket; the whole body is read so the socket is reused. */
function send(agent: http.Agent, url: URL, method: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<RawAnswer> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<RawAnswer>((resolve, reject) => {
    const request = transport.request(url, { method, agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ statusCode: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(key, item);
  }
  return headers;
}

/** Creates the on-premises SOAP adapter. Throws at once on an invalid configuration (at cold start). */
export function createOnPremisesInventory(input: OnPremisesConfigInput, deps: ReportAdapterDeps): BeaconInventory {
  const parsed = OnPremisesConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid FNMS on-premises inventory configuration at ${issue.path.join('.') || '$'}: ${issue.message}`);
  }
  const config = parsed.data;
  const base = new URL(config.url);
  const origin = base.origin;
  const path = base.pathname.replace(/\/+$/, '') + config.servicePath;
  const { user, domain } = splitAccount(config.account);
  const caller = createRetryingCaller(config.retry, deps);
  const secrets = createRedactor();
  const envelope = getCustomViewEnvelope(config.reportId, config.rowLimit);
  const what = `FNMS GetCustomView (POST ${config.servicePath}, custom view ${config.reportId})`;
  let password: string | null = null;

  async function readPassword(): Promise<string> {
    if (password !== null) return password;
    let secret: string;
    try {
      secret = await deps.getSecret();
    } catch (error) {
      const name = error instanceof Error ? error.name : typeof error;
      throw new BeaconInventoryError('INVENTORY_AUTH', 'getCustomView', `${what}: the password secret could not be read (${name})`, { field: 'fnmsSecretName', retriable: true });
    }
    if (secret.length === 0) throw new BeaconInventoryError('INVENTORY_AUTH', 'getCustomView', `${what}: the password secret is empty`, { field: 'fnmsSecretName' });
    secrets.remember(secret);
    password = secret;
    return secret;
  }

  /** One attempt: the NTLM handshake and the call, on one connection that is closed afterwards. */
  async function exchange(signal: AbortSignal): Promise<HttpAnswer> {
    const secret = await readPassword();
    const url = new URL(path, origin);
    const agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    const soapHeaders = { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${GET_CUSTOM_VIEW_ACTION}"`, accept: 'text/xml' };
    try {
      const negotiate = await send(agent, url, 'POST', { ...soapHeaders, authorization: createType1Message(config.workstation, domain) }, '', signal);
      if (negotiate.statusCode !== 401) return { status: negotiate.statusCode, text: negotiate.text, headers: toHeaders(negotiate.headers) };
      const challenge = ntlmChallenge(negotiate.headers['www-authenticate']);
      if (challenge === null) {
        const offered = [negotiate.headers['www-authenticate']].flat().filter(Boolean).join('; ') || 'nothing';
        throw new BeaconInventoryError(
          'INVENTORY_AUTH',
          'getCustomView',
          `${what}: the server did not answer the NTLM negotiation (it offers ${offered}); enable Windows authentication with the NTLM provider on the ManageSoftServices application in IIS`,
          { status: 401 },
        );
      }
      let type3: string;
      try {
        type3 = createType3Message(decodeType2Message(challenge), user, secret, config.workstation, domain);
      } catch (error) {
        throw new BeaconInventoryError('INVENTORY_AUTH', 'getCustomView', `${what}: the server's NTLM challenge could not be read (${(error as Error).message.split(':')[0]})`, { status: 401 });
      }
      const answer = await send(agent, url, 'POST', { ...soapHeaders, authorization: type3 }, envelope, signal);
      return { status: answer.statusCode, text: answer.text, headers: toHeaders(answer.headers) };
    } finally {
      agent.destroy();
    }
  }

  return {
    source: 'onPremises',
    async listBeacons(): Promise<InventoryBeacon[]> {
      const answer = await caller.call(
        {
          operation: 'getCustomView',
          what,
          redact: secrets.redact,
          // The password may have been rotated: read the secret again once.
          renewOn401: () => {
            password = null;
          },
          hints: {
            401: `the Windows account ${config.account} or its password was refused; check the account, the password in the secret, and that the account is not locked`,
            403: `the account ${config.account} may not use the web service; give it the FNMS Webservice role`,
            404: `no ComplianceAPIService at ${config.servicePath}; check fnmsUrl`,
          },
          inspect: (refused) => {
            const fault = refused.status === 500 ? soapFaultText(refused.text) : null;
            return fault === null
              ? null
              : new BeaconInventoryError('INVENTORY_SOAP_FAULT', 'getCustomView', secrets.redact(`${what} answered a SOAP fault: ${fault.slice(0, 300)}; check fnmsReportId and the report`), {
                  status: 500,
                  field: 'fnmsReportId',
                });
          },
        },
        exchange,
      );
      const table = parseGetCustomViewAnswer(answer.text, what);
      const where = `FNMS custom view ${config.reportId}`;
      requireColumns('getCustomView', config.columns, table.columns, where, CONFIG_KEY);
      if (table.rows.length === 0) {
        throw new BeaconInventoryError('INVENTORY_EMPTY', 'getCustomView', `${where} answered no rows; FNMS knows at least one beacon, so check the report's filters and that the account may see beacons`, {
          field: 'fnmsReportId',
        });
      }
      if (table.rows.length >= config.rowLimit) {
        throw new BeaconInventoryError('INVENTORY_TRUNCATED', 'getCustomView', `${where} answered ${table.rows.length} rows, the row limit: beacons may be missing; raise fnmsRowLimit`, {
          field: 'fnmsRowLimit',
        });
      }
      return table.rows.map((row, index) => beaconFromRow('getCustomView', config.columns, row, index + 1, where, CONFIG_KEY));
    },
  };
}
