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
