import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the local twin says about one beacon at the end of a run. */
export interface BeaconReport {
  instanceId: string;
  computerName: string | null;
  requestId: string;
  /** Terminal state of the beacon's workflow (ok, rolled-back, failed, skipped, busy, dry-run, pin-failed, error). */
  outcome: string;
  changed: string[];
  failedChecks: string[];
  /** Names of the failed checks: in a dry run, what a real run would change. */
  failedCheckNames: string[];
  beaconVersion: string | null;
  pinnedVersion: string | null;
  reasons: string[];
  /** Shown although the beacon is configured (pinMode none). */
  warnings: string[];
  /** Who asked for the request (lambdas/core/caller.ts describeCaller). */
  requestedBy?: string;
}

export interface RefusedRequest {
  requestId: string | null;
  source: string;
  error: { code: string; message: string; field: string };
  requestedBy?: string;
}

export interface RunReport {
  tool: 'beacon-proxy local twin';
  startedAt: string;
  finishedAt: string;
  dryRun: boolean;
  fleetDir: string;
  beacons: BeaconReport[];
  refused: RefusedRequest[];
  fnms: { approvedVersion: string | null; writes: number };
}

const OUTCOME_MARK: Record<string, string> = {
  ok: 'OK',
  'dry-run': 'PLAN',
  'rolled-back': 'ROLLED BACK',
  failed: 'FAILED',
  skipped: 'SKIPPED',
  busy: 'BUSY',
  'pin-failed': 'PIN FAILED',
  error: 'ERROR',
};

function cell(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function planSummary(beacon: BeaconReport): string {
  const names = beacon.failedCheckNames;
  if (names.length === 0) return beacon.reasons[0] ?? 'in the desired state: nothing to change';
  return `would change: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`;
}

/** A plain-text table, one row per beacon, for the terminal. */
export function renderTable(report: RunReport): string {
  const columns = [
    { title: 'BEACON', width: 40, value: (b: BeaconReport) => `${b.computerName ?? '?'} (${b.instanceId})` },
    { title: 'OUTCOME', width: 12, value: (b: BeaconReport) => OUTCOME_MARK[b.outcome] ?? b.outcome.toUpperCase() },
    // What a rolled-back run changed was undone: the count would mislead.
    { title: 'CHANGED', width: 8, value: (b: BeaconReport) => (b.outcome === 'ok' ? String(b.changed.length) : '-') },
    { title: report.dryRun ? 'WOULD CHANGE' : 'CHECKS FAILED', width: 14, value: (b: BeaconReport) => String(b.failedChecks.length) },
    { title: 'VERSION PINNED', width: 15, value: (b: BeaconReport) => b.pinnedVersion ?? '-' },
    { title: 'WHY', width: 60, value: (b: BeaconReport) => (b.outcome === 'dry-run' ? planSummary(b) : b.reasons[0] ?? (b.warnings[0] ? `warning: ${b.warnings[0]}` : undefined)) ?? (b.outcome === 'ok' && b.changed.length ? `changed: ${b.changed.slice(0, 3).join(', ')}${b.changed.length > 3 ? ', …' : ''}` : '') },
  ];
  const lines = [columns.map((c) => cell(c.title, c.width)).join(' ').trimEnd(), columns.map((c) => '-'.repeat(c.width)).join(' ')];
  for (const beacon of report.beacons) lines.push(columns.map((c) => cell(c.value(beacon), c.width)).join(' ').trimEnd());
  for (const refused of report.refused) {
    lines.push(`refused request ${refused.requestId ?? '(no id)'} from ${refused.source}: ${refused.error.code} at ${refused.error.field}: ${refused.error.message}`);
  }
  const counts = new Map<string, number>();
  for (const beacon of report.beacons) counts.set(beacon.outcome, (counts.get(beacon.outcome) ?? 0) + 1);
  const summary = [...counts].map(([outcome, count]) => `${count} ${OUTCOME_MARK[outcome]?.toLowerCase() ?? outcome}`).join(', ');
  lines.push('', `${report.beacons.length} beacon(s): ${summary || 'none'}; FNMS approved version: ${report.fnms.approvedVersion ?? 'unknown'}`);
  return `${lines.join('\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A static HTML page of the run: no script, every value escaped. */
export function renderHtml(report: RunReport): string {
  const rows = report.beacons
    .map((b) => {
      // A rolled-back run's changes were undone; a plan's failed checks are what a run would change.
      const changedLabel = b.outcome === 'ok' ? 'changed' : 'changed, then undone by the rollback';
      const checkLabel = b.outcome === 'dry-run' ? 'would change' : 'check failed';
      const details = [...b.reasons, ...b.warnings.map((w) => `warning: ${w}`), ...b.failedChecks.map((c) => `${checkLabel}: ${c}`), ...b.changed.map((c) => `${changedLabel}: ${c}`)];
      return `<tr class="${escapeHtml(b.outcome)}"><td>${escapeHtml(b.computerName ?? '?')}<br><small>${escapeHtml(b.instanceId)}</small></td>` +
        `<td>${escapeHtml(OUTCOME_MARK[b.outcome] ?? b.outcome)}</td><td>${b.outcome === 'ok' ? b.changed.length : '-'}</td><td>${b.failedChecks.length}</td>` +
        `<td>${escapeHtml(b.pinnedVersion ?? '-')}</td><td><ul>${details.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul></td>` +
        `<td>${escapeHtml(b.requestId)}<br><small>${escapeHtml(b.requestedBy ?? 'unknown caller')}</small></td></tr>`;
    })
    .join('\n');
  const refused = report.refused
    .map((r) => `<li><b>${escapeHtml(r.error.code)}</b> ${escapeHtml(r.error.field)}: ${escapeHtml(r.error.message)} (${escapeHtml(r.source)}, requested by ${escapeHtml(r.requestedBy ?? 'unknown caller')})</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>beacon-proxy run ${escapeHtml(report.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}th{background:#f3f3f3}
tr.ok td:nth-child(2){color:#176f2c;font-weight:bold}tr.failed td:nth-child(2),tr.error td:nth-child(2),tr.pin-failed td:nth-child(2){color:#b00020;font-weight:bold}
tr.rolled-back td:nth-child(2),tr.skipped td:nth-child(2),tr.busy td:nth-child(2){color:#a05a00;font-weight:bold}ul{margin:0;padding-left:1.2rem}
</style></head><body>
<h1>beacon-proxy local run</h1>
<p>Started ${escapeHtml(report.startedAt)}, finished ${escapeHtml(report.finishedAt)}${report.dryRun ? ' (dry run: nothing changed)' : ''}.
Fleet: <code>${escapeHtml(report.fleetDir)}</code>. FNMS approved beacon version: <b>${escapeHtml(report.fnms.approvedVersion ?? 'unknown')}</b>.</p>
<table><thead><tr><th>Beacon</th><th>Outcome</th><th>Changed</th><th>Checks failed</th><th>Version pinned</th><th>Details</th><th>Request, requested by</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${refused ? `<h2>Refused requests</h2><ul>${refused}</ul>` : ''}
</body></html>
`;
}

export async function writeReports(dir: string, report: RunReport): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderHtml(report));
  return { json, html };
}

/** A one-line progress bar on a terminal; plain lines otherwise (CI logs, pipes). */
export class Progress {
  private done = 0;
  private total = 0;
  private readonly last = new Map<string, string>();
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  started(): void {
    this.total += 1;
  }

  event(instanceId: string, text: string): void {
    // Polls repeat; a line per change is enough.
    if (this.last.get(instanceId) === text) return;
    this.last.set(instanceId, text);
    if (this.stream.isTTY) {
      const width = 24;
      const filled = this.total === 0 ? width : Math.round((this.done / this.total) * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total}`;
      this.stream.write(`\r\u001b[2K${bar}  ${instanceId}: ${text}`.slice(0, (this.stream.columns ?? 120) + 8));
    } else {
      this.stream.write(`  ${instanceId}: ${text}\n`);
    }
  }

  finish(instanceId: string, outcome: string): void {
    this.done += 1;
    this.event(instanceId, outcome);
    if (this.done === this.total && this.stream.isTTY) this.stream.write('\n');
  }
}
