/** Run reports as the local twin writes them: a run with every outcome, and a plan. */
import type { RunReport } from '../../local/report.js';

const none = { diff: [], restored: [], diffOmitted: 0 };
const APPLIED = [
  { id: 'registry:Common\\https_proxy', before: 'absent', after: 'REG_SZ https://proxy.corp.example:8080' },
  { id: 'service:logon', before: 'NT AUTHORITY\\SYSTEM', after: 'CORP\\svc-beacon' },
];
const RESTORED = [{ id: 'service:logon', before: 'CORP\\svc-beacon', after: 'NT AUTHORITY\\SYSTEM' }];

export const REPORT: RunReport = {
  tool: 'beacon-proxy local twin',
  startedAt: '2026-11-27T10:00:00.000Z',
  finishedAt: '2026-11-27T10:00:30.000Z',
  dryRun: false,
  fleetDir: '/tmp/fleet',
  beacons: [
    { instanceId: 'i-1', computerName: 'B1', requestId: 'r', outcome: 'ok', changed: ['registry:Common\\https_proxy', 'service:logon'], failedChecks: [], failedCheckNames: [], beaconVersion: '13.2.0', pinnedVersion: '13.2.0', reasons: [], warnings: [], ...none, diff: APPLIED },
    { instanceId: 'i-2', computerName: 'B2<script>', requestId: 'r', outcome: 'rolled-back', changed: ['x'], failedChecks: [], failedCheckNames: [], beaconVersion: null, pinnedVersion: null, reasons: ['service: <b>failed</b> & gone'], warnings: [], ...none, diff: APPLIED, restored: RESTORED },
    { instanceId: 'i-3', computerName: 'B3', requestId: 'r', outcome: 'ok', changed: [], failedChecks: [], failedCheckNames: [], beaconVersion: '13.2.0', pinnedVersion: null, reasons: [], warnings: ['FNMS beacon version not pinned (pinMode none)'], ...none },
    { instanceId: 'i-4', computerName: 'B4', requestId: 'r', outcome: 'skipped', changed: [], failedChecks: [], failedCheckNames: [], beaconVersion: null, pinnedVersion: null, reasons: ['offline: SSM Agent ping status is ConnectionLost'], warnings: [], ...none },
  ],
  refused: [{ requestId: 'bad', source: 'local', error: { code: 'PAC_UNSUPPORTED', message: 'no PAC', field: 'proxy' } }],
  fnms: { approvedVersion: '13.2.0', approvedBefore: 'latest', writes: 1 },
};

export const PLAN: RunReport = {
  ...REPORT,
  dryRun: true,
  beacons: [
    { ...REPORT.beacons[0]!, outcome: 'dry-run', changed: [], failedChecks: ['a: x', 'b: y'], failedCheckNames: ['registry:Common\\https_proxy', 'service:logon'], pinnedVersion: null },
    { ...REPORT.beacons[2]!, instanceId: 'i-5', computerName: 'B5', outcome: 'dry-run', warnings: [] },
  ],
  fnms: { approvedVersion: 'latest', approvedBefore: 'latest', writes: 0 },
};
