/**
 * The beacon inventory: which beacons FNMS knows and which release each runs, read from a report (custom
 * view) the operator saved in FNMS, through Flexera's documented report APIs (beacon-procedure section 6):
 * Flexera One's report execute REST API or the on-premises ComplianceAPIService `GetCustomView` SOAP call.
 * The operator maps the report's columns to the five facts we need; an answer that lacks a mapped column,
 * is unreadable or is empty is an error naming what is wrong, never an empty fleet.
 */
import * as z from 'zod/mini';

/** A beacon as the saved report lists it. */
export interface InventoryBeacon {
  /** Beacon name shown in FNMS. */
  name: string;
  /** Windows computer name; matched to the SSM instance's computer name. Falls back to `name` when the report cell is empty. */
  computerName: string;
  /** Beacon software release as FNMS shows it, or null when the cell is empty. */
  version: string | null;
  /** Beacon status as FNMS shows it (for example Active or Inactive), or null. */
  status: string | null;
  /** Last contact as FNMS shows it, or null when the beacon never contacted FNMS. */
  lastContact: string | null;
}

/** The port: every consumer (new-beacon trigger, pin rules) reads beacons through it. */
export interface BeaconInventory {
  /** Where the beacons come from, for messages and audit. */
  readonly source: 'flexeraOne' | 'onPremises' | 'memory';
  /** Every beacon of the saved report, all pages. Throws BeaconInventoryError. */
  listBeacons(): Promise<InventoryBeacon[]>;
}

/** The facts a report must provide, in the order the README lists them. */
export const INVENTORY_FIELDS = ['name', 'computerName', 'version', 'status', 'lastContact'] as const;
export type InventoryField = (typeof INVENTORY_FIELDS)[number];

const columnName = z.string().check(z.minLength(1), z.maxLength(256), z.regex(/^[^\u0000-\u001f]+$/, 'a column name without control characters'));

/** Which report column holds each fact: Flexera One column keys (`R2_<hash>_<Table>_<Column>`) or on-premises DataSet column names. */
export const ColumnMappingSchema = z.strictObject({
  name: columnName,
  computerName: columnName,
  version: columnName,
  status: columnName,
  lastContact: columnName,
});
export type ColumnMapping = z.infer<typeof ColumnMappingSchema>;

/**
 * Reads a column mapping written as a JSON object or as `name=COL,computerName=COL,...` (the form a
 * `-c key=value` context value takes). Throws an Error naming the field that is missing or unknown.
 */
export function parseColumnMapping(input: unknown): ColumnMapping {
  let value = input;
  if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('{')) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new Error('the column mapping is not valid JSON; write {"name": "...", "computerName": "...", ...} or name=...,computerName=...');
      }
    } else {
      const pairs: Record<string, string> = {};
      for (const part of text.split(',')) {
        if (part.trim() === '') continue;
        const at = part.indexOf('=');
        if (at <= 0) throw new Error(`the column mapping entry "${part.trim()}" is not field=column`);
        pairs[part.slice(0, at).trim()] = part.slice(at + 1).trim();
      }
      value = pairs;
    }
  }
  const parsed = ColumnMappingSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || '$';
    const hint = issue.code === 'unrecognized_keys' ? ` (known fields: ${INVENTORY_FIELDS.join(', ')})` : '';
    throw new Error(`invalid column mapping at ${where}: ${issue.message}${hint}`);
  }
  return parsed.data;
}

/** The report API call that failed: the token endpoint, one page of Flexera One's execute, or the SOAP call. */
export type InventoryOperation = 'token' | 'executeReport' | 'getCustomView';

/** Stable codes of inventory failures. */
export type InventoryErrorCode =
  /** A mapped column is not in the report's answer. `field` names the mapping field and the column. */
  | 'INVENTORY_COLUMN_MISSING'
  /** The answer could not be read as the documented format (JSON values/nextPage, SOAP DataSet). */
  | 'INVENTORY_UNREADABLE'
  /** The report answered no rows: FNMS always knows at least one beacon, so the report's filter is wrong. */
  | 'INVENTORY_EMPTY'
  /** Paging did not end (a skipToken came back twice, or more pages than the guard allows). */
  | 'INVENTORY_PAGING_LOOP'
  /** The answer reached the row limit of GetCustomView: rows may be missing. */
  | 'INVENTORY_TRUNCATED'
  /** The credentials were refused or could not be read. */
  | 'INVENTORY_AUTH'
  /** The server answered a SOAP fault (for example an unknown custom view id). */
  | 'INVENTORY_SOAP_FAULT'
  /** Any other HTTP status after retries. */
  | 'INVENTORY_HTTP'
  | 'INVENTORY_TIMEOUT'
  | 'INVENTORY_NETWORK';

/**
 * A failed inventory read. The message names the call that failed and what to do; it never contains a
 * token or password. `field` is the configuration or column at fault when there is one. `retriable` says
 * whether a later attempt may succeed (429, 5xx, timeout, network).
 */
export class BeaconInventoryError extends Error {
  override readonly name = 'BeaconInventoryError';
  constructor(
    readonly code: InventoryErrorCode,
    readonly operation: InventoryOperation,
    message: string,
    readonly options: { field?: string | null; status?: number | null; retriable?: boolean; attempts?: number } = {},
  ) {
    super(message);
  }

  get field(): string | null {
    return this.options.field ?? null;
  }

  get status(): number | null {
    return this.options.status ?? null;
  }

  get retriable(): boolean {
    return this.options.retriable ?? false;
  }

  get attempts(): number {
    return this.options.attempts ?? 1;
  }

  toJSON(): { name: string; code: InventoryErrorCode; operation: InventoryOperation; field: string | null; status: number | null; retriable: boolean; attempts: number; message: string } {
    return { name: this.name, code: this.code, operation: this.operation, field: this.field, status: this.status, retriable: this.retriable, attempts: this.attempts, message: this.message };
  }
}

export function isBeaconInventoryError(value: unknown): value is BeaconInventoryError {
  return value instanceof BeaconInventoryError;
}

/** A cell as a trimmed string; null for absent, null or empty cells. Numbers (a version typed as a number) become strings. */
function cell(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed.length === 0 ? null : trimmed;
}

/**
 * Checks that every mapped column is among the answer's columns. `columns` is what the answer declares
 * (the DataSet schema) or carries (the keys of Flexera One's rows). Throws INVENTORY_COLUMN_MISSING naming
 * the first missing one and listing what the report has.
 */
export function requireColumns(operation: InventoryOperation, mapping: ColumnMapping, columns: Iterable<string>, where: string, configKey: string): void {
  const present = new Set(columns);
  for (const field of INVENTORY_FIELDS) {
    const column = mapping[field];
    if (present.has(column)) continue;
    const available = [...present].sort();
    throw new BeaconInventoryError(
      'INVENTORY_COLUMN_MISSING',
      operation,
      `${where} has no column "${column}" (mapped to ${field} in ${configKey}); add the column to the saved report or correct the mapping. ` +
        `The report's columns: ${available.length > 0 ? available.join(', ') : 'none'}`,
      { field: `${configKey}.${field}` },
    );
  }
}

/** One report row, as a record of column -> value, mapped to a beacon. Throws INVENTORY_UNREADABLE for a row without a name. */
export function beaconFromRow(operation: InventoryOperation, mapping: ColumnMapping, row: Record<string, unknown>, rowNumber: number, where: string, configKey: string): InventoryBeacon {
  const name = cell(row[mapping.name]);
  const computerName = cell(row[mapping.computerName]) ?? name;
  if (name === null || computerName === null) {
    throw new BeaconInventoryError(
      'INVENTORY_UNREADABLE',
      operation,
      `${where}: row ${rowNumber} has an empty "${mapping.name}" (mapped to name in ${configKey}); every beacon row needs a name`,
      { field: `${configKey}.name` },
    );
  }
  return {
    name,
    computerName,
    version: cell(row[mapping.version]),
    status: cell(row[mapping.status]),
    lastContact: cell(row[mapping.lastContact]),
  };
}

/** An in-memory inventory for handler tests. */
export function createInMemoryInventory(beacons: InventoryBeacon[] | (() => Promise<InventoryBeacon[]>)): BeaconInventory {
  return {
    source: 'memory',
    listBeacons: async () => (typeof beacons === 'function' ? beacons() : structuredClone(beacons)),
  };
}
