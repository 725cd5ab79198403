import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BEACON_PROXY_STATE_KEY, FLEXNET_REGISTRY_ROOTS, REQUIRED_UPLOAD_TASKS, WININET_MACHINE_KEYS, WININET_POLICY_KEY } from '../lambdas/core/beacon-facts.js';
import type { DesiredState } from '../lambdas/core/desired-state.js';

/**
 * A modelled Windows beacon, as the fake layer (ssm-documents/fake/FakeBeaconLayer.ps1) reads and writes
 * it. Registry keys are full paths (`HKLM\...`), hive keys are relative to `HKU\<SID>`; values are
 * `{type, data}` with Binary data in base64 and DWord data as a number. Names compare case-insensitively
 * on the beacon, so keep them unique ignoring case.
 */
export type RegistryValueType = 'String' | 'ExpandString' | 'DWord' | 'QWord' | 'Binary' | 'MultiString';
export interface RegistryValueModel {
  type: RegistryValueType;
  data: string | number | string[];
}
export type RegistryKeyModel = Record<string, RegistryValueModel>;

export interface AccountModel {
  /** `DOMAIN\name` for domain accounts and gMSAs, the plain name for local accounts. */
  name: string;
  aliases: string[];
  sid: string;
  kind: 'domain' | 'local' | 'gmsa';
  /** SHA-256 (hex) of the account's password; null for a gMSA. Never the password itself. */
  passwordSha256: string | null;
}

export interface HiveModel {
  loaded: boolean;
  keys: Record<string, RegistryKeyModel>;
}

export interface ServiceModel {
  name: string;
  displayName: string;
  startName: string;
  passwordSha256: string | null;
  /** As Win32_Service.State reports it. */
  state: 'Running' | 'Stopped' | 'Start Pending' | 'Stop Pending';
}

export interface TaskModel {
  path: string;
  name: string;
  userId: string;
  logonType: 'ServiceAccount' | 'Password' | 'S4U' | 'Interactive';
  runLevel: 'Highest' | 'Limited';
  passwordSha256: string | null;
}

/** Faults the fake layer injects. */
export interface BeaconFaults {
  /** The service does not start while it logs on as anything but LocalSystem. */
  serviceFailsToStart?: boolean;
  /** This task name is not found (as if the beacon did not have it). */
  taskMissing?: string;
  /** Changing this task's principal fails. */
  taskUpdateFails?: string;
  /** Writes to a registry key whose path ends with this text are denied. */
  accessDeniedOnKey?: string;
  /** Writes to `<key path>\<value name>` (suffix match) are silently dropped: only a read-back notices. */
  ignoreWrite?: string;
  /** Every secret fetch fails as if the secret did not exist. */
  secretNotFound?: boolean;
  /** LsaAddAccountRights is denied. */
  lsaAccessDenied?: boolean;
  /** Adding a member to a local group is denied. */
  groupAccessDenied?: boolean;
  /** The run holds the document lock this long before it starts (to test two documents on one beacon). */
  holdLockMs?: number;
  /** The next N hive unloads fail with "Access is denied" (handles still open). */
  hiveUnloadBusy?: number;
  /** CreateProfile fails. */
  profileCreateFails?: boolean;
  /** The service hangs in this pending state (Stop Pending / Start Pending) and never leaves it. */
  servicePendingForever?: 'stop' | 'start';
}

export interface BeaconModel {
  schema: 1;
  computerName: string;
  beaconVersion: string | null;
  registry: Record<string, RegistryKeyModel>;
  /** Registry hives of user profiles by SID; `loaded` = present under HKU. */
  hives: Record<string, HiveModel>;
  profiles: Record<string, { path: string }>;
  accounts: AccountModel[];
  /** User rights (LSA) by SID. */
  rights: Record<string, string[]>;
  /** Local groups by SID, members by SID. */
  groups: Record<string, { name: string; members: string[] }>;
  services: ServiceModel[];
  tasks: TaskModel[];
  /** Stand-in for Secrets Manager / Parameter Store: reference -> value. The only place a password is. */
  secrets: Record<string, string>;
  /** Version ids of the secrets (Secrets Manager VersionId, Parameter Store Version); default "1". */
  secretVersions?: Record<string, string>;
  faults: BeaconFaults;
  /** Owner and protection of the capture folder and files the layer wrote (the file system's ACLs). */
  files?: Record<string, { owner: string; protected: boolean }>;
  /** Where captures go; default `<model file without .json>.captures`. */
  captureDir?: string;
  /** What the fake layer did, in order (reg load/unload, service restarts...). Not beacon state. */
  journal: string[];
}

export const DEFAULT_ACCOUNT = {
  kind: 'domain' as const,
  name: 'CORP\\svc-beacon',
  aliases: ['svc-beacon@corp.example'],
  sid: 'S-1-5-21-3623811015-3361044348-30300820-1013',
};
export const DEFAULT_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf';
export const DEFAULT_PASSWORD = 'Xq7#beacon-Pa55word!';
export const DEFAULT_PARAMETER_NAME = '/beacon-proxy/svc-beacon/password';
export const BEACON_SERVICE_NAME = 'BeaconEngine';
export const ADMINISTRATORS_SID = 'S-1-5-32-544';
const BUILTIN_ADMINISTRATOR_SID = 'S-1-5-21-3623811015-3361044348-30300820-500';
export const WININET_KEY = 'Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';
export const MACHINE_WININET_KEY = `HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet Settings`;
export const WOW_MACHINE_WININET_KEY = WININET_MACHINE_KEYS[1];
export { WININET_POLICY_KEY };

export interface FreshBeaconOptions {
  computerName?: string;
  /** Which FlexNet root exists: 64-bit Windows (WOW6432Node, default) or 32-bit. */
  root?: '64' | '32';
  beaconVersion?: string | null;
  /** The named account as the beacon/domain has it. `exists: false` for a local account still to create. */
  account?: {
    kind?: 'domain' | 'local' | 'gmsa';
    name?: string;
    aliases?: string[];
    sid?: string;
    exists?: boolean;
    /** Its user profile: loaded (logged on), unloaded (default) or missing (never logged on). */
    profile?: 'loaded' | 'unloaded' | 'missing';
    /** Its password; defaults to DEFAULT_PASSWORD, null for a gMSA. */
    password?: string | null;
  };
  /** Secrets the instance role can read; defaults to DEFAULT_SECRET_ARN and DEFAULT_PARAMETER_NAME. */
  secrets?: Record<string, string>;
  /** Task names on the beacon (as SYSTEM); defaults to the two required upload tasks. */
  tasks?: string[];
  faults?: BeaconFaults;
  captureDir?: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// ---------------------------------------------------------------- the WinINet connection blob (TS twin)

export interface ConnectionSettings {
  version: number;
  counter: number;
  flags: number;
  proxyServer: string;
  bypass: string;
  autoConfigUrl: string;
  /** Bytes after the three strings (auto-detect data, timestamps); 32 zero bytes when absent. */
  tail?: Buffer;
}

export function encodeConnectionSettings(settings: ConnectionSettings): Buffer {
  const header = Buffer.alloc(12);
  header.writeInt32LE(settings.version, 0);
  header.writeUInt32LE(settings.counter >>> 0, 4);
  header.writeInt32LE(settings.flags, 8);
  const parts: Buffer[] = [header];
  for (const text of [settings.proxyServer, settings.bypass, settings.autoConfigUrl]) {
    const bytes = Buffer.from(text, 'ascii');
    const length = Buffer.alloc(4);
    length.writeInt32LE(bytes.length, 0);
    parts.push(length, bytes);
  }
  parts.push(settings.tail ?? Buffer.alloc(32));
  return Buffer.concat(parts);
}

export function decodeConnectionSettings(blob: Buffer): ConnectionSettings {
  let position = 12;
  const strings: string[] = [];
  for (let index = 0; index < 3; index += 1) {
    const length = blob.readInt32LE(position);
    position += 4;
    strings.push(blob.subarray(position, position + length).toString('ascii'));
    position += length;
  }
  return {
    version: blob.readInt32LE(0),
    counter: blob.readUInt32LE(4),
    flags: blob.readInt32LE(8),
    proxyServer: strings[0]!,
    bypass: strings[1]!,
    autoConfigUrl: strings[2]!,
    tail: blob.subarray(position),
  };
}

function binary(bytes: Buffer): RegistryValueModel {
  return { type: 'Binary', data: bytes.toString('base64') };
}

// ---------------------------------------------------------------- factories

export function flexnetRoot(root: '64' | '32' = '64'): string {
  return `HKLM\\${root === '64' ? FLEXNET_REGISTRY_ROOTS[0] : FLEXNET_REGISTRY_ROOTS[1]}`;
}

/** A beacon as installed: service and upload tasks as LocalSystem, no proxy values, the account's hive as asked. */
export function freshBeacon(options: FreshBeaconOptions = {}): BeaconModel {
  const root = flexnetRoot(options.root ?? '64');
  const accountOptions = options.account ?? {};
  const kind = accountOptions.kind ?? DEFAULT_ACCOUNT.kind;
  const name = accountOptions.name ?? (kind === 'domain' ? DEFAULT_ACCOUNT.name : kind === 'gmsa' ? 'CORP\\gmsa-beacon$' : 'svc-beacon');
  const sid = accountOptions.sid ?? (kind === 'domain' ? DEFAULT_ACCOUNT.sid : kind === 'gmsa' ? 'S-1-5-21-3623811015-3361044348-30300820-2104' : 'S-1-5-21-1111111111-2222222222-3333333333-1001');
  const password = kind === 'gmsa' ? null : accountOptions.password === undefined ? DEFAULT_PASSWORD : accountOptions.password;
  const exists = accountOptions.exists ?? true;
  const profile = exists ? (accountOptions.profile ?? 'unloaded') : 'missing';

  const model: BeaconModel = {
    schema: 1,
    computerName: options.computerName ?? 'BEACON01',
    beaconVersion: options.beaconVersion === undefined ? '13.2.0' : options.beaconVersion,
    registry: {
      [`${root}\\Common`]: { InstallDir: { type: 'String', data: 'C:\\Program Files (x86)\\Flexera Software\\Inventory Beacon\\' } },
      [`${root}\\Common\\DownloadSettings\\ReplicatorParent`]: {},
      [`${root}\\Common\\UploadSettings\\ReplicatorParent`]: {},
      [`${root}\\Launcher\\CurrentVersion`]: { Version: { type: 'String', data: '13.2.0' } },
      [MACHINE_WININET_KEY]: { EnableHttp1_1: { type: 'DWord', data: 1 } },
      [`${MACHINE_WININET_KEY}\\Connections`]: {
        DefaultConnectionSettings: binary(encodeConnectionSettings({ version: 0x46, counter: 3, flags: 0x09, proxyServer: '', bypass: '', autoConfigUrl: '' })),
      },
    },
    hives: {},
    profiles: {},
    accounts: [],
    rights: { [ADMINISTRATORS_SID]: ['SeBackupPrivilege', 'SeInteractiveLogonRight', 'SeBatchLogonRight'] },
    groups: { [ADMINISTRATORS_SID]: { name: 'Administrators', members: [BUILTIN_ADMINISTRATOR_SID] } },
    services: [{ name: BEACON_SERVICE_NAME, displayName: 'FlexNet Beacon Engine', startName: 'LocalSystem', passwordSha256: null, state: 'Running' }],
    tasks: (options.tasks ?? [...REQUIRED_UPLOAD_TASKS]).map((task) => ({
      path: '\\',
      name: task,
      userId: 'SYSTEM',
      logonType: 'ServiceAccount' as const,
      runLevel: 'Highest' as const,
      passwordSha256: null,
    })),
    secrets: options.secrets ?? { [DEFAULT_SECRET_ARN]: DEFAULT_PASSWORD, [DEFAULT_PARAMETER_NAME]: DEFAULT_PASSWORD },
    faults: options.faults ?? {},
    journal: [],
  };
  if (options.captureDir) model.captureDir = options.captureDir;
  if (exists) {
    model.accounts.push({
      name,
      aliases: accountOptions.aliases ?? (name === DEFAULT_ACCOUNT.name ? [...DEFAULT_ACCOUNT.aliases] : []),
      sid,
      kind,
      passwordSha256: password === null ? null : sha256Hex(password),
    });
  }
  if (profile !== 'missing') {
    const short = name.split('\\').pop()!;
    model.profiles[sid] = { path: `C:\\Users\\${short}` };
    model.hives[sid] = {
      loaded: profile === 'loaded',
      keys: {
        // What a user who once opened Internet Options has: a PAC script, auto-detect on.
        [WININET_KEY]: {
          ProxyEnable: { type: 'DWord', data: 0 },
          AutoConfigURL: { type: 'String', data: 'http://wpad.corp.example/proxy.pac' },
        },
        [`${WININET_KEY}\\Connections`]: {
          DefaultConnectionSettings: binary(
            encodeConnectionSettings({ version: 0x46, counter: 7, flags: 0x0d, proxyServer: '', bypass: '', autoConfigUrl: 'http://wpad.corp.example/proxy.pac' }),
          ),
        },
      },
    };
  }
  return model;
}

/** The account record a desired state names, looked up the way the beacon resolves it. */
function accountFor(model: BeaconModel, state: DesiredState): AccountModel {
  const wanted = state.account.name.toLowerCase();
  const account = model.accounts.find((entry) => [entry.name, ...entry.aliases].some((name) => name.toLowerCase() === wanted));
  if (!account) throw new Error(`configuredBeacon: the model has no account ${state.account.name}`);
  return account;
}

/**
 * A beacon already configured for `state` (what a successful configure run leaves): a configure run on it
 * changes nothing. The account must exist in the model (pass the same options as to freshBeacon).
 */
export function configuredBeacon(state: DesiredState, options: FreshBeaconOptions = {}): BeaconModel {
  const model = freshBeacon({ ...options, account: { kind: state.account.kind, name: state.account.name, profile: 'unloaded', ...options.account, exists: true } });
  const account = accountFor(model, state);
  const ntName = account.kind === 'local' ? `${model.computerName}\\${account.name}` : account.name;
  const root = flexnetRoot(options.root ?? '64');
  for (const value of state.registry) {
    const key = (model.registry[`${root}\\${value.path}`] ??= {});
    if (value.value === null) delete key[value.name];
    else key[value.name] = { type: 'String', data: value.value };
  }
  const bypass = state.wininet.bypass.join(';');
  const views: Array<{ keys: Record<string, RegistryKeyModel>; settingsKey: string }> = [];
  if (state.wininet.scope === 'machine') {
    views.push({ keys: model.registry, settingsKey: MACHINE_WININET_KEY });
    // On 64-bit Windows the 32-bit beacon reads the WOW6432Node view: both are written.
    if ((options.root ?? '64') === '64') views.push({ keys: model.registry, settingsKey: WOW_MACHINE_WININET_KEY });
    model.registry[WININET_POLICY_KEY] = { ProxySettingsPerUser: { type: 'DWord', data: 0 } };
  } else {
    if (!model.profiles[account.sid]) {
      model.profiles[account.sid] = { path: `C:\\Users\\${account.name.split('\\').pop()!}` };
      model.hives[account.sid] = { loaded: false, keys: {} };
    }
    // The service runs as the account, so Windows keeps the account's hive loaded.
    model.hives[account.sid]!.loaded = true;
    views.push({ keys: model.hives[account.sid]!.keys, settingsKey: WININET_KEY });
  }
  for (const { keys, settingsKey } of views) {
    const settings = (keys[settingsKey] ??= {});
    settings.ProxyEnable = { type: 'DWord', data: 1 };
    settings.ProxyServer = { type: 'String', data: state.wininet.proxyServer };
    if (bypass) settings.ProxyOverride = { type: 'String', data: bypass };
    else delete settings.ProxyOverride;
    delete settings.AutoConfigURL;
    const connections = (keys[`${settingsKey}\\Connections`] ??= {});
    // Both blobs in agreement, as the configure document writes them (auto-detect on for a new one).
    for (const name of ['DefaultConnectionSettings', 'SavedLegacySettings']) {
      const previous = connections[name] ? decodeConnectionSettings(Buffer.from(String(connections[name].data), 'base64')) : null;
      connections[name] = binary(
        encodeConnectionSettings({
          version: 0x46,
          counter: (previous?.counter ?? 0) + 1,
          flags: 0x03 | (previous ? previous.flags & 0x08 : 0x08),
          proxyServer: state.wininet.proxyServer,
          bypass,
          autoConfigUrl: '',
          ...(previous?.tail ? { tail: previous.tail } : {}),
        }),
      );
    }
  }
  // The secret version the configure document records (the fake's default version is "1").
  if (state.account.passwordRef) {
    model.registry[BEACON_PROXY_STATE_KEY] = { AppliedCredential: { type: 'String', data: `${ntName}|${state.account.passwordRef}|1` } };
  }
  const rights = (model.rights[account.sid] ??= []);
  for (const right of state.account.rights) if (!rights.includes(right)) rights.push(right);
  const administrators = model.groups[ADMINISTRATORS_SID]!;
  if (!administrators.members.includes(account.sid)) administrators.members.push(account.sid);
  const service = model.services[0]!;
  service.startName = account.kind === 'local' ? `.\\${account.name}` : ntName;
  service.passwordSha256 = account.passwordSha256;
  for (const task of model.tasks) {
    task.userId = ntName;
    task.logonType = 'Password';
    task.passwordSha256 = account.passwordSha256;
  }
  return model;
}

/** The beacon's state: the model without the fake layer's journal, fault settings and the capture files' ACLs. */
export function beaconState(model: BeaconModel): Omit<BeaconModel, 'journal' | 'faults' | 'files'> {
  const { journal: _journal, faults: _faults, files: _files, ...state } = model;
  return state;
}

/**
 * The beacon as a user sees it: its state with the WinINet blobs' change counters set aside (DefaultConnectionSettings and SavedLegacySettings) (a restore
 * writes the captured settings with counter = current + 1, as Windows counts every change).
 */
export function comparableState(model: BeaconModel): unknown {
  const state = JSON.parse(JSON.stringify(beaconState(model))) as BeaconModel;
  const strip = (keys: BeaconModel['registry']) => {
    for (const values of Object.values(keys)) {
      for (const [name, value] of Object.entries(values)) {
        if (value.type === 'Binary' && /(ConnectionSettings|SavedLegacySettings)$/.test(name)) {
          value.data = encodeConnectionSettings({ ...decodeConnectionSettings(Buffer.from(String(value.data), 'base64')), counter: 0 }).toString('base64');
        }
      }
    }
  };
  strip(state.registry);
  for (const hive of Object.values(state.hives)) strip(hive.keys);
  return state;
}

export function writeBeaconModel(directory: string, name: string, model: BeaconModel): string {
  mkdirSync(directory, { recursive: true });
  const path = join(directory, name.endsWith('.json') ? name : `${name}.json`);
  writeFileSync(path, `${JSON.stringify(model, null, 2)}\n`);
  return path;
}

export function readBeaconModel(path: string): BeaconModel {
  return JSON.parse(readFileSync(path, 'utf8')) as BeaconModel;
}

/** A registry value of a model, looked up ignoring case as Windows does; undefined when absent. */
export function registryValue(keys: Record<string, RegistryKeyModel>, keyPath: string, name: string): RegistryValueModel | undefined {
  const keyName = Object.keys(keys).find((candidate) => candidate.toLowerCase() === keyPath.toLowerCase());
  if (keyName === undefined) return undefined;
  const key = keys[keyName]!;
  const valueName = Object.keys(key).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return valueName === undefined ? undefined : key[valueName];
}
