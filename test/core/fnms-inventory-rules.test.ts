/**
 * The inventory rules shared by both report adapters (lambdas/core/fnms/inventory.ts, config.ts,
 * report-inventory.ts, in-memory.ts): how a report row becomes a beacon, how a column mapping is read
 * and refused, what an inventory error says by default, and how the configurations are validated.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FNMS_PATHS, FLEXERA_ONE_TOKEN_URL, parseFnmsConfig } from '../../lambdas/core/fnms/config.js';
import { FnmsError, isFnmsError } from '../../lambdas/core/fnms/errors.js';
import { createInMemoryFnms } from '../../lambdas/core/fnms/in-memory.js';
import {
  BeaconInventoryError,
  INVENTORY_FIELDS,
  beaconFromRow,
  createInMemoryInventory,
  isBeaconInventoryError,
  parseColumnMapping,
  requireColumns,
} from '../../lambdas/core/fnms/inventory.js';
import { createReportInventory, parseInventoryConfig } from '../../lambdas/core/fnms/report-inventory.js';

const COLUMNS = { name: 'N', computerName: 'C', version: 'V', status: 'S', lastContact: 'L' };

function thrown(run: () => unknown): BeaconInventoryError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BeaconInventoryError);
    return error as BeaconInventoryError;
  }
  throw new Error('expected an inventory error');
}

describe('a report row becomes a beacon', () => {
  it('cells trimmed; empty, absent or non-text cells are null; a number or a boolean typed in a cell is text', () => {
    expect(beaconFromRow('executeReport', COLUMNS, { N: ' B1 ', C: ' host1 ', V: 13.2, S: true, L: '  ' }, 1, 'report 1', 'cfg')).toEqual({
      name: 'B1',
      computerName: 'host1',
      version: '13.2',
      status: 'true',
      lastContact: null,
    });
    expect(beaconFromRow('executeReport', COLUMNS, { N: 'B1', V: { value: '13.2.0' }, S: null }, 1, 'report 1', 'cfg')).toEqual({ name: 'B1', computerName: 'B1', version: null, status: null, lastContact: null });
  });

  it('the computer name falls back to the beacon name when its cell is empty', () => {
    expect(beaconFromRow('getCustomView', COLUMNS, { N: 'B1', C: '' }, 3, 'view 7', 'cfg').computerName).toBe('B1');
  });

  it('a row without a name is unreadable, naming the row, the column and the mapping field', () => {
    const error = thrown(() => beaconFromRow('getCustomView', COLUMNS, { N: ' ', C: 'host1' }, 3, 'FNMS custom view 7', 'fnmsReportColumns'));
    expect(error.toJSON()).toEqual({
      name: 'BeaconInventoryError',
      code: 'INVENTORY_UNREADABLE',
      operation: 'getCustomView',
      field: 'fnmsReportColumns.name',
      status: null,
      retriable: false,
      attempts: 1,
      message: 'FNMS custom view 7: row 3 has an empty "N" (mapped to name in fnmsReportColumns); every beacon row needs a name',
    });
  });

  it('a missing column names the first missing fact in README order and lists what the report has (sorted), or none', () => {
    expect(() => requireColumns('executeReport', COLUMNS, ['N', 'C', 'V', 'S', 'L'], 'r', 'k')).not.toThrow();
    const error = thrown(() => requireColumns('executeReport', COLUMNS, ['S', 'N', 'X'], 'Flexera One report 9', 'fnmsReportColumns'));
    expect(error.code).toBe('INVENTORY_COLUMN_MISSING');
    expect(error.field).toBe('fnmsReportColumns.computerName');
    expect(error.message).toBe(
      'Flexera One report 9 has no column "C" (mapped to computerName in fnmsReportColumns); add the column to the saved report or correct the mapping. The report\'s columns: N, S, X',
    );
    expect(thrown(() => requireColumns('executeReport', COLUMNS, [], 'r', 'k')).message).toMatch(/The report's columns: none$/);
    expect(INVENTORY_FIELDS).toEqual(['name', 'computerName', 'version', 'status', 'lastContact']);
  });
});

describe('column mappings as an operator writes them', () => {
  it('field=column pairs, blanks and empty entries tolerated', () => {
    expect(parseColumnMapping(' name = N ,, computerName=C,version=V,status=S,lastContact=L, ')).toEqual(COLUMNS);
    expect(parseColumnMapping(' {"name":"N","computerName":"C","version":"V","status":"S","lastContact":"L"} ')).toEqual(COLUMNS);
  });

  it('refusals name what is wrong', () => {
    expect(() => parseColumnMapping('=N')).toThrow('the column mapping entry "=N" is not field=column');
    expect(() => parseColumnMapping('{"name":')).toThrow('the column mapping is not valid JSON; write {"name": "...", "computerName": "...", ...} or name=...,computerName=...');
    expect(() => parseColumnMapping({ ...COLUMNS, owner: 'O' })).toThrow('invalid column mapping at $: ');
    expect(() => parseColumnMapping({ ...COLUMNS, owner: 'O' })).toThrow('(known fields: name, computerName, version, status, lastContact)');
    expect(() => parseColumnMapping({ ...COLUMNS, version: '' })).toThrow(/^invalid column mapping at version: /);
    expect(() => parseColumnMapping({ ...COLUMNS, version: '' })).not.toThrow(/known fields/);
    expect(() => parseColumnMapping(42)).toThrow(/^invalid column mapping at \$: /);
  });
});

describe('inventory errors and the in-memory stand-ins', () => {
  it('an inventory error defaults to no field, no status, not retriable, one attempt', () => {
    const error = new BeaconInventoryError('INVENTORY_HTTP', 'token', 'm');
    expect([error.field, error.status, error.retriable, error.attempts, error.name]).toEqual([null, null, false, 1, 'BeaconInventoryError']);
    expect(isBeaconInventoryError(error)).toBe(true);
    expect(isBeaconInventoryError(new Error('m'))).toBe(false);
    const fnms = new FnmsError('token', 'auth', 'm', null, false, 0);
    expect(isFnmsError(fnms)).toBe(true);
    expect(isFnmsError(error)).toBe(false);
    expect(fnms.name).toBe('FnmsError');
  });

  it('the in-memory inventory hands out copies: a caller cannot change what the next read returns', async () => {
    const inventory = createInMemoryInventory([{ name: 'B1', computerName: 'B1', version: '13.2.0', status: null, lastContact: null }]);
    expect(inventory.source).toBe('memory');
    const first = await inventory.listBeacons();
    first[0]!.version = '1.0';
    expect((await inventory.listBeacons())[0]!.version).toBe('13.2.0');
  });

  it('the in-memory pin gateway applies the same rules: latest by default, writes recorded, an unchanged pin writes nothing', async () => {
    const fnms = createInMemoryFnms({ approvedVersion: 'Always use the latest version', availableVersions: ['13.2.0'] });
    await expect(fnms.getBeaconSettings()).resolves.toEqual({ approvedVersion: 'latest', availableVersions: ['13.2.0'] });
    await expect(fnms.setApprovedBeaconVersion('13.2', { allowDowngrade: false })).resolves.toEqual({ status: 'changed', from: 'latest', to: '13.2.0' });
    await expect(fnms.setApprovedBeaconVersion('13.2.0', { allowDowngrade: false })).resolves.toEqual({ status: 'unchanged', version: '13.2.0' });
    expect(fnms.writes).toEqual(['13.2.0']);
    expect(fnms.state.approvedVersion).toBe('13.2.0');
    const fresh = createInMemoryFnms();
    expect(fresh.state).toEqual({ approvedVersion: 'latest', availableVersions: [] });
  });
});

describe('configurations, validated once at cold start', () => {
  it('the pin gateway: defaults filled in; an error names the field, or $ for the whole', () => {
    expect(parseFnmsConfig({ baseUrl: 'https://gw.corp.example', auth: { kind: 'refreshToken' } })).toEqual({
      baseUrl: 'https://gw.corp.example',
      paths: { ...DEFAULT_FNMS_PATHS },
      auth: { kind: 'refreshToken', tokenUrl: FLEXERA_ONE_TOKEN_URL, refreshSkewSeconds: 60 },
      timeoutMs: 10_000,
      maxAttempts: 4,
      baseDelayMs: 250,
      maxDelayMs: 8_000,
      maxRetryAfterMs: 30_000,
    });
    expect(() => parseFnmsConfig({ baseUrl: 'ftp://gw', auth: { kind: 'bearer' } })).toThrow(/^invalid FNMS configuration at baseUrl: /);
    expect(() => parseFnmsConfig({ baseUrl: 'https://gw', auth: { kind: 'bearer' }, paths: { beaconSettings: 'api' } })).toThrow(/^invalid FNMS configuration at paths\.beaconSettings: /);
    expect(() => parseFnmsConfig(null)).toThrow(/^invalid FNMS configuration at \$: /);
  });

  it('the inventory: Flexera One or on premises by kind; an error names the field', () => {
    const flexeraOne = { kind: 'flexeraOne', orgId: '12', reportId: 34, columns: COLUMNS, auth: { kind: 'refreshToken' } };
    expect(parseInventoryConfig(flexeraOne)).toMatchObject({ kind: 'flexeraOne', region: 'com', orgId: '12', reportId: '34', maxPages: 1000, refreshSkewSeconds: 300 });
    expect(createReportInventory(flexeraOne as never, { getSecret: async () => 'x' }).source).toBe('flexeraOne');
    expect(() => parseInventoryConfig({ ...flexeraOne, orgId: '012' })).toThrow(/^invalid FNMS inventory configuration at orgId: /);
    expect(() => parseInventoryConfig({ kind: 'other' })).toThrow(/^invalid FNMS inventory configuration at kind: /);
    expect(() => parseInventoryConfig('x')).toThrow(/^invalid FNMS inventory configuration at \$: /);
    expect(parseInventoryConfig({ kind: 'onPremises', url: 'https://fnms.corp.example', reportId: 7, account: 'CORP\\svc', columns: COLUMNS })).toMatchObject({
      kind: 'onPremises',
      servicePath: '/ManageSoftServices/ComplianceAPIService/ComplianceAPIService.asmx',
      rowLimit: 50_000,
      workstation: 'BEACON-PROXY',
    });
  });
});
