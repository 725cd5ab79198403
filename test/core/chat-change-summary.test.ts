import { describe, expect, it } from 'vitest';
import type { DiffEntry } from '../../lambdas/core/change-diff.js';
import { type BeaconChangeView, countOutcomes, formatCounts, renderBeaconChanges } from '../../lambdas/core/change-summary.js';
import { chatChangeSummary, chatChangeSummaryForSlack, chatChangeSummaryForTeams } from '../../lambdas/core/chatops/change-summary.js';

const change = (id: string, before: string, after: string): DiffEntry => ({ id, before, after });
const APPLIED = [
  change('registry:Common\\https_proxy', 'absent', 'REG_SZ https://proxy.corp.example:8080'),
  change('wininet:ProxyOverride', 'absent', 'REG_SZ *.corp.example;<local>'),
  change('service:logon', 'NT AUTHORITY\\SYSTEM', 'CORP\\svc-beacon'),
  change('task:Upload third party inventory data', 'NT AUTHORITY\\SYSTEM (ServiceAccount, run level Highest)', 'CORP\\svc-beacon (Password, run level Highest)'),
];
const RESTORED = [change('service:logon', 'CORP\\svc-beacon', 'NT AUTHORITY\\SYSTEM')];

const fleet: BeaconChangeView[] = [
  { instanceId: 'i-0a1b2c3d4e5f60001', name: 'BEACON-FRESH-01', state: 'ok', diff: APPLIED },
  { instanceId: 'i-0a1b2c3d4e5f60002', name: 'BEACON-DONE-02', state: 'ok', diff: [] },
  { instanceId: 'i-0a1b2c3d4e5f60003', state: 'skipped', reasons: ['offline: SSM Agent ping status is ConnectionLost'] },
  { instanceId: 'i-0a1b2c3d4e5f60004', name: 'BEACON-BROKEN-04', state: 'rolled-back', diff: APPLIED, restored: RESTORED, reasons: ['service: SERVICE_START_FAILED: the service did not start'] },
  { instanceId: 'i-0a1b2c3d4e5f60005', state: 'failed', diff: APPLIED.slice(0, 1), reasons: ['rollback failed: key locked'] },
];

describe('the counts of a request', () => {
  it('groups outcomes as people ask: ok, rolled back, failed, skipped, would change, no change', () => {
    expect(formatCounts(countOutcomes(fleet))).toBe('2 ok, 1 rolled back, 1 failed, 1 skipped');
    const plan = [{ state: 'dry-run', diff: APPLIED }, { state: 'dry-run', diff: [] }, { state: 'pin-failed' }, { state: 'busy' }, { state: 'sent' }];
    expect(formatCounts(countOutcomes(plan))).toBe('1 failed, 1 skipped, 1 would change, 1 no change, 1 running');
  });
});

describe('one beacon as text, like terraform plan', () => {
  it('a plan lists current -> wanted per value; a beacon already right says no change', () => {
    expect(renderBeaconChanges({ instanceId: 'i-1', name: 'B1', state: 'dry-run', diff: APPLIED.slice(0, 2) })).toEqual([
      'B1 (i-1): would change 2 value(s), current -> wanted:',
      '  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080',
      '  wininet:ProxyOverride: absent -> REG_SZ *.corp.example;<local>',
    ]);
    expect(renderBeaconChanges({ instanceId: 'i-2', state: 'dry-run', diff: [] })).toEqual(['i-2: no change (already as requested)']);
  });

  it('a rolled-back beacon shows what it changed, undone, and what the rollback put back; a kept count of what was left out', () => {
    const lines = renderBeaconChanges({ ...fleet[3]!, diffOmitted: 2 }, { maxChanges: 2 });
    expect(lines[0]).toBe('BEACON-BROKEN-04 (i-0a1b2c3d4e5f60004): rolled-back: service: SERVICE_START_FAILED: the service did not start');
    expect(lines).toContain('  changed, then undone by the rollback:');
    expect(lines).toContain('    … and 2 more');
    expect(lines).toContain('  restored by the rollback:');
    expect(lines).toContain('    service:logon: CORP\\svc-beacon -> NT AUTHORITY\\SYSTEM');
    expect(lines.at(-1)).toBe('  (2 more change(s) not kept: see the command output)');
  });
});

describe('the chat summary of a request', () => {
  it('counts, the FNMS pin outcome, and the first few changes of each failed beacon', () => {
    const summary = chatChangeSummary({ requestId: 'chg-1234', dryRun: false, beacons: fleet, pin: 'approved version 13.2.0 (was "Always use the latest version")' });
    expect(summary.title).toBe('Result of request chg-1234');
    expect(summary.lines[0]).toBe('Beacons: 2 ok, 1 rolled back, 1 failed, 1 skipped');
    expect(summary.lines[1]).toBe('FNMS: approved version 13.2.0 (was "Always use the latest version")');
    expect(summary.lines).toContain('BEACON-BROKEN-04 (i-0a1b2c3d4e5f60004) rolled-back: service: SERVICE_START_FAILED: the service did not start');
    expect(summary.lines).toContain('  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080');
    expect(summary.lines).toContain('  … and 2 more change(s)');
    expect(summary.lines).toContain('i-0a1b2c3d4e5f60005 failed: rollback failed: key locked');
    // The ok beacons' changes are not listed: only what needs a person.
    expect(summary.lines.join('\n')).not.toContain('BEACON-FRESH-01');
    expect(summary.lines.at(-1)).toBe('Every beacon and change: status chg-1234');
  });

  it('a plan lists the beacons that would change', () => {
    const summary = chatChangeSummary({ requestId: 'plan-1', dryRun: true, beacons: [{ instanceId: 'i-1', state: 'dry-run', diff: APPLIED }, { instanceId: 'i-2', state: 'dry-run', diff: [] }] });
    expect(summary.lines[0]).toBe('Plan: 1 would change, 1 no change');
    expect(summary.lines[1]).toBe('i-1 would change');
    expect(summary.lines[2]).toBe('  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080');
  });

  it('50 failed beacons with long values still fit Slack (3,000 per section) and Teams whole: less detail, never a cut', () => {
    const long = (n: number) => `REG_SZ ${'x'.repeat(5000)}${n}`;
    const beacons: BeaconChangeView[] = Array.from({ length: 50 }, (_, i) => ({
      instanceId: `i-0a1b2c3d4e5f6${String(i).padStart(4, '0')}`,
      name: `BEACON-${'N'.repeat(40)}-${i}`,
      state: 'rolled-back',
      reasons: [`service: SERVICE_START_FAILED: ${'r'.repeat(400)}`],
      diff: Array.from({ length: 30 }, (_, j) => change(`registry:Value${j}<&>`, long(j), long(j + 1))),
      restored: APPLIED,
    }));
    const slack = chatChangeSummaryForSlack({ requestId: 'big', dryRun: false, beacons });
    const text = slack.blocks[0]!.text.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).not.toContain('(cut)');
    expect(text).toContain('Beacons: 50 rolled back');
    expect(text).toContain('&lt;&amp;&gt;');
    expect(text).toContain('… and 47 more beacon(s) that failed');
    const teams = chatChangeSummaryForTeams({ requestId: 'big', dryRun: false, beacons });
    expect(teams.text).not.toContain('(cut)');
    expect(teams.text).toContain('Beacons: 50 rolled back');
  });
});
