// Facts about a FlexNet inventory beacon, defined once. The beacon PowerShell holds no copy: it reads
// them from the desired state. Source: FNMS 2019 R2 "Configuring for Proxy Servers".

/** Registry roots of FlexNet ("[Registry]" in the vendor docs), 64-bit first; the beacon uses the one that exists. */
export const FLEXNET_REGISTRY_ROOTS = [
  'SOFTWARE\\WOW6432Node\\ManageSoft Corp\\ManageSoft',
  'SOFTWARE\\ManageSoft Corp\\ManageSoft',
] as const;

/** Registry paths under the FlexNet root. */
export const REGISTRY_PATHS = {
  common: 'Common',
  downloadReplicator: 'Common\\DownloadSettings\\ReplicatorParent',
  uploadReplicator: 'Common\\UploadSettings\\ReplicatorParent',
  launcher: 'Launcher\\CurrentVersion',
} as const;

export const REGISTRY_VALUE_NAMES = {
  httpProxy: 'http_proxy',
  httpsProxy: 'https_proxy',
  replicatorProxy: 'Proxy',
  checkCertificateRevocation: 'CheckCertificateRevocation',
} as const;

/** Value written to Common\CheckCertificateRevocation when the CRL check is disabled. */
export const CRL_CHECK_DISABLED_VALUE = 'False';

export const BEACON_SERVICE_DISPLAY_NAME = 'FlexNet Beacon Engine';

/** Scheduled tasks that must run as the named account; the procedure names these two. */
export const REQUIRED_UPLOAD_TASKS = ['Upload third party inventory data', 'Upload Flexera logs and inventories'] as const;

/** Older beacons spell "FlexNet" where newer ones say "Flexera". */
export const UPLOAD_TASK_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'Upload Flexera logs and inventories': ['Upload FlexNet logs and inventories'],
};

/** Newer beacons have more upload tasks; configured when present, reported either way. */
export const OPTIONAL_UPLOAD_TASKS = [
  'Upload Flexera inventories',
  'Upload FlexNet inventories',
  'Upload FlexNet Beacon status',
] as const;

export const USER_RIGHTS = {
  service: 'SeServiceLogonRight',
  batch: 'SeBatchLogonRight',
  interactive: 'SeInteractiveLogonRight',
} as const;

/** Default time the beacon script waits for the service to report Running after a restart. */
export const SERVICE_START_TIMEOUT_SECONDS = 120;

export const WININET_LOCAL_BYPASS = '<local>';

/** Internet Settings of a user, relative to HKU\<SID>. */
export const WININET_USER_KEY = 'Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';
/** Machine-wide Internet Settings (ProxySettingsPerUser = 0), 64-bit view and the WOW6432Node view 32-bit programs read. */
export const WININET_MACHINE_KEYS = [
  'HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
  'HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Internet Settings',
] as const;
/** The policy key that switches WinINet to per-machine settings (shared by both registry views). */
export const WININET_POLICY_KEY = 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\Internet Settings';
/** This tool's own key on a beacon: the secret version applied (never a password). */
export const BEACON_PROXY_STATE_KEY = 'HKLM\\SOFTWARE\\BeaconProxy';
export const ADMINISTRATORS_GROUP_SID = 'S-1-5-32-544';

/**
 * Always bypassed in machine scope: a machine-wide proxy also applies to LocalSystem, so the SSM Agent
 * (it reads the IE proxy at start), IMDS and the endpoints it talks to must stay direct.
 */
export const MACHINE_SCOPE_BYPASS = ['169.254.169.254', 'ssm.*.amazonaws.com', 'ssmmessages.*.amazonaws.com', 'ec2messages.*.amazonaws.com'] as const;
