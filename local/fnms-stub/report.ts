/**
 * The stub's saved report of beacons, rendered in the two documented wire formats: Flexera One's report
 * execute page (`{"values": [...], "nextPage": "...skipToken=..."}`, column keys `R2_<hash>_<Table>_<Column>`)
 * and the on-premises GetCustomView answer (SOAP envelope around a .NET DataSet: XML schema, then the rows
 * in a diffgram; null cells omitted; column names XML-encoded as XmlConvert does).
 */
import { createHash } from 'node:crypto';
import { INVENTORY_FIELDS, type ColumnMapping, type InventoryField } from '../../lambdas/core/fnms/inventory.js';

/** A beacon as the stub's FNMS knows it (one report row). */
export interface StubBeacon {
  name: string;
  computerName: string;
  version: string | null;
  status: string | null;
  lastContact: string | null;
}

const TITLES: Record<InventoryField, { table: string; column: string; caption: string }> = {
  name: { table: 'Beacon', column: 'Name', caption: 'Beacon name' },
  computerName: { table: 'Beacon', column: 'ComputerName', caption: 'Computer name' },
  version: { table: 'Beacon', column: 'BeaconVersion', caption: 'Version' },
  status: { table: 'Beacon', column: 'Status', caption: 'Status' },
  lastContact: { table: 'Beacon', column: 'LastContactDate', caption: 'Last contact' },
};

/** Flexera One's column keys of the report (a hash per report, then table and column). */
export function flexeraOneColumns(reportId: string): ColumnMapping {
  const hash = createHash('sha256').update(`report-${reportId}`).digest('hex').slice(0, 8);
  const mapping = {} as ColumnMapping;
  for (const field of INVENTORY_FIELDS) mapping[field] = `R2_${hash}_${TITLES[field].table}_${TITLES[field].column}`;
  return mapping;
}

/** The on-premises custom view's column names as FNMS shows them. */
export function customViewColumns(): ColumnMapping {
  const mapping = {} as ColumnMapping;
  for (const field of INVENTORY_FIELDS) mapping[field] = TITLES[field].caption;
  return mapping;
}

/** One report row as Flexera One's JSON: every column present, null for empty cells. */
export function jsonRow(beacon: StubBeacon, columns: ColumnMapping, omit: ReadonlySet<InventoryField>): Record<string, string | null> {
  const row: Record<string, string | null> = {};
  for (const field of INVENTORY_FIELDS) if (!omit.has(field)) row[columns[field]] = beacon[field];
  return row;
}

/** XmlConvert.EncodeLocalName for the characters a column caption holds. */
export function encodeXmlName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]|^[^A-Za-z_]/g, (char) => `_x${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}_`);
}

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The GetCustomView SOAP answer: a DataSet whose SearchResults table has the report's columns. */
export function getCustomViewAnswer(beacons: readonly StubBeacon[], columns: ColumnMapping, omit: ReadonlySet<InventoryField>): string {
  const fields = INVENTORY_FIELDS.filter((field) => !omit.has(field));
  const schemaColumns = fields
    .map((field) => `<xs:element name="${encodeXmlName(columns[field])}" type="${field === 'lastContact' ? 'xs:dateTime' : 'xs:string'}" minOccurs="0" />`)
    .join('');
  const rows = beacons
    .map((beacon, index) => {
      // A DataSet leaves null cells out of the row.
      const cells = fields
        .filter((field) => beacon[field] !== null)
        .map((field) => `<${encodeXmlName(columns[field])}>${escapeXml(beacon[field]!)}</${encodeXmlName(columns[field])}>`)
        .join('');
      return `<SearchResults diffgr:id="SearchResults${index + 1}" msdata:rowOrder="${index}">${cells}</SearchResults>`;
    })
    .join('');
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">' +
    '<soap:Body><GetCustomViewResponse xmlns="http://tempuri.org/"><GetCustomViewResult>' +
    '<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:msdata="urn:schemas-microsoft-com:xml-msdata">' +
    '<xs:element name="NewDataSet" msdata:IsDataSet="true" msdata:UseCurrentLocale="true"><xs:complexType><xs:choice minOccurs="0" maxOccurs="unbounded">' +
    `<xs:element name="SearchResults"><xs:complexType><xs:sequence>${schemaColumns}</xs:sequence></xs:complexType></xs:element>` +
    '</xs:choice></xs:complexType></xs:element></xs:schema>' +
    '<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1">' +
    `<NewDataSet xmlns="">${rows}</NewDataSet></diffgr:diffgram>` +
    '</GetCustomViewResult></GetCustomViewResponse></soap:Body></soap:Envelope>'
  );
}

/** A SOAP 1.1 fault, as ASMX answers an exception (HTTP 500). */
export function soapFault(code: 'soap:Client' | 'soap:Server', text: string): string {
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
    `<faultcode>${code}</faultcode><faultstring>${escapeXml(text)}</faultstring><detail />` +
    '</soap:Fault></soap:Body></soap:Envelope>'
  );
}
