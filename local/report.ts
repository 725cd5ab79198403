import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiffEntry } from '../lambdas/core/change-diff.js';
import { countOutcomes, formatCounts, OUTCOME_GROUPS, outcomeGroup, renderBeaconChanges } from '../lambdas/core/change-summary.js';

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
  /** Each value the run changed (a plan: would change), before -> after, as the beacon rendered it. */
  diff: DiffEntry[];
  /** What a rollback put back, before -> after. */
  restored: DiffEntry[];
  /** Changes left out past the verdict's limit (counted). */
  diffOmitted: number;
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
  /** FNMS "Beacon version approved for use" before and after the run, and how often the pin wrote it. */
  fnms: { approvedVersion: string | null; approvedBefore?: string | null; writes: number };
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
  const names = beacon.diff.length > 0 ? beacon.diff.map((entry) => entry.id) : beacon.failedCheckNames;
  if (names.length === 0) return beacon.reasons[0] ?? 'no change: already as requested';
  return `would change: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}`;
}

/** A plain-text table, one row per beacon, for the terminal. */
export function renderTable(report: RunReport): string {
  const columns = [
    { title: 'BEACON', width: 40, value: (b: BeaconReport) => `${b.computerName ?? '?'} (${b.instanceId})` },
    { title: 'OUTCOME', width: 12, value: (b: BeaconReport) => OUTCOME_MARK[b.outcome] ?? b.outcome.toUpperCase() },
    // What a rolled-back run changed was undone: the count would mislead.
    { title: 'CHANGED', width: 8, value: (b: BeaconReport) => (b.outcome === 'ok' ? String(b.changed.length) : '-') },
    { title: report.dryRun ? 'WOULD CHANGE' : 'CHECKS FAILED', width: 14, value: (b: BeaconReport) => String(report.dryRun && b.outcome === 'dry-run' ? b.diff.length + b.diffOmitted : b.failedChecks.length) },
    { title: 'VERSION PINNED', width: 15, value: (b: BeaconReport) => b.pinnedVersion ?? '-' },
    { title: 'WHY', width: 60, value: (b: BeaconReport) => (b.outcome === 'dry-run' ? planSummary(b) : b.reasons[0] ?? (b.warnings[0] ? `warning: ${b.warnings[0]}` : undefined)) ?? (b.outcome === 'ok' && b.changed.length ? `changed: ${b.changed.slice(0, 3).join(', ')}${b.changed.length > 3 ? ', …' : ''}` : '') },
  ];
  const lines = [columns.map((c) => cell(c.title, c.width)).join(' ').trimEnd(), columns.map((c) => '-'.repeat(c.width)).join(' ')];
  for (const beacon of report.beacons) lines.push(columns.map((c) => cell(c.value(beacon), c.width)).join(' ').trimEnd());
  for (const refused of report.refused) {
    lines.push(`refused request ${refused.requestId ?? '(no id)'} from ${refused.source}: ${refused.error.code} at ${refused.error.field}: ${refused.error.message}`);
  }
  const summary = formatCounts(countOutcomes(report.beacons.map((b) => ({ state: b.outcome, diff: b.diff }))));
  lines.push('', `${report.beacons.length} beacon(s): ${summary}; FNMS approved version: ${pinOutcome(report)}`);
  return `${lines.join('\n')}\n`;
}

/** How FNMS's "Beacon version approved for use" came out of the run. */
export function pinOutcome(report: RunReport): string {
  const show = (version: string | null | undefined) => (version === 'latest' ? '"Always use the latest version"' : version ?? 'unknown');
  const { approvedVersion, approvedBefore, writes } = report.fnms;
  if (report.dryRun) return `${show(approvedVersion)} (not touched: dry run)`;
  if (approvedBefore !== undefined && approvedBefore !== approvedVersion) return `${show(approvedBefore)} -> ${show(approvedVersion)} (pinned by this run, ${writes} write(s))`;
  return `${show(approvedVersion)} (${writes > 0 ? `${writes} write(s)` : 'already approved, nothing written'})`;
}

/** Every beacon's changes, `id: before -> after` (a plan: current -> wanted, "no change" for a beacon already right). */
export function renderChanges(report: RunReport): string {
  const lines: string[] = [report.dryRun ? 'Plan (current -> wanted):' : 'Changes (before -> after):'];
  for (const beacon of report.beacons) {
    lines.push(...renderBeaconChanges({ instanceId: beacon.instanceId, name: beacon.computerName, state: beacon.outcome, diff: beacon.diff, restored: beacon.restored, diffOmitted: beacon.diffOmitted, reasons: beacon.reasons }));
  }
  return `${lines.join('\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const GROUP_CLASS: Record<string, string> = { ok: 'ok', 'rolled back': 'rolled-back', failed: 'failed', skipped: 'skipped', 'would change': 'would-change', 'no change': 'no-change', running: 'running' };

/** The before/after table of one list of changes. */
function changeTable(caption: string, entries: DiffEntry[], headings: [string, string]): string {
  const rows = entries.map((entry) => `<tr><th scope="row">${escapeHtml(entry.id)}</th><td>${escapeHtml(entry.before)}</td><td>${escapeHtml(entry.after)}</td></tr>`).join('');
  return `<table class="diff"><caption>${escapeHtml(caption)}</caption><thead><tr><th>Item</th><th>${headings[0]}</th><th>${headings[1]}</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** A collapsible before/after view of one beacon's changes. */
function beaconChanges(beacon: BeaconReport): string {
  const group = outcomeGroup({ state: beacon.outcome, diff: beacon.diff });
  const omitted = beacon.diffOmitted > 0 ? `<p>${beacon.diffOmitted} more change(s) were not kept (see the command output).</p>` : '';
  if (group === 'no change' || (group === 'ok' && beacon.diff.length === 0 && beacon.diffOmitted === 0)) return '<p class="no-change">No change: the beacon is already as requested.</p>';
  if (beacon.diff.length === 0 && beacon.restored.length === 0) return group === 'skipped' ? '<p>Nothing changed.</p>' : '';
  const tables: string[] = [];
  if (beacon.diff.length > 0) {
    const caption =
      group === 'would change' ? 'What a run would change' : beacon.outcome === 'rolled-back' ? 'Changed, then undone by the rollback' : beacon.outcome === 'ok' || beacon.outcome === 'pin-failed' ? 'Changed' : 'Changed (the rollback did not confirm: check these on the beacon)';
    tables.push(changeTable(caption, beacon.diff, group === 'would change' ? ['Current', 'Wanted'] : ['Before', 'After']));
  }
  if (beacon.restored.length > 0) tables.push(changeTable('Restored by the rollback', beacon.restored, ['Before the rollback', 'Restored']));
  const count = beacon.diff.length + beacon.diffOmitted;
  const summary = group === 'would change' ? `${count} value(s) would change` : beacon.diff.length > 0 ? `${count} value(s) changed${beacon.restored.length > 0 ? `, ${beacon.restored.length} restored` : ''}` : `${beacon.restored.length} value(s) restored`;
  return `<details${group === 'failed' || group === 'rolled back' ? ' open' : ''}><summary>${escapeHtml(summary)} (before -&gt; after)</summary>${tables.join('')}${omitted}</details>`;
}

/**
 * A static HTML page of the run: the counts and the FNMS pin outcome at the top, then each beacon with a
 * collapsible before/after table. No script at all (a Content-Security-Policy forbids any), every value escaped.
 */
export function renderHtml(report: RunReport): string {
  const counts = countOutcomes(report.beacons.map((b) => ({ state: b.outcome, diff: b.diff })));
  const shownGroups = OUTCOME_GROUPS.filter((group) => (report.dryRun ? group !== 'ok' && group !== 'rolled back' : group !== 'would change' && group !== 'no change') || counts[group] > 0).filter((group) => group !== 'running' || counts[group] > 0);
  const summary = shownGroups
    .map((group) => `<li class="${GROUP_CLASS[group]}" data-group="${escapeHtml(group)}"><b>${counts[group]}</b> ${escapeHtml(group)}</li>`)
    .join('');
  const rows = report.beacons
    .map((b) => {
      const checkLabel = b.outcome === 'dry-run' ? 'would change' : 'check failed';
      const details = [...b.reasons, ...b.warnings.map((w) => `warning: ${w}`), ...(b.outcome === 'dry-run' ? [] : b.failedChecks.map((c) => `${checkLabel}: ${c}`))];
      const changed = b.outcome === 'ok' ? String(b.changed.length) : b.outcome === 'dry-run' ? `${b.diff.length} planned` : '-';
      return `<tr class="${escapeHtml(b.outcome)}" id="beacon-${escapeHtml(b.instanceId)}"><td>${escapeHtml(b.computerName ?? '?')}<br><small>${escapeHtml(b.instanceId)}</small></td>` +
        `<td>${escapeHtml(OUTCOME_MARK[b.outcome] ?? b.outcome)}</td><td>${escapeHtml(changed)}</td><td>${b.failedChecks.length}</td>` +
        `<td>${escapeHtml(b.pinnedVersion ?? '-')}</td><td>${details.length ? `<ul>${details.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul>` : ''}${beaconChanges(b)}</td>` +
        `<td>${escapeHtml(b.requestId)}<br><small>${escapeHtml(b.requestedBy ?? 'unknown caller')}</small></td></tr>`;
    })
    .join('\n');
  const refused = report.refused
    .map((r) => `<li><b>${escapeHtml(r.error.code)}</b> ${escapeHtml(r.error.field)}: ${escapeHtml(r.error.message)} (${escapeHtml(r.source)}, requested by ${escapeHtml(r.requestedBy ?? 'unknown caller')})</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'">
<title>beacon-proxy ${report.dryRun ? 'plan' : 'run'} ${escapeHtml(report.startedAt)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}th{background:#f3f3f3}
tr.ok>td:nth-child(2){color:#176f2c;font-weight:bold}tr.failed>td:nth-child(2),tr.error>td:nth-child(2),tr.pin-failed>td:nth-child(2){color:#b00020;font-weight:bold}
tr.rolled-back>td:nth-child(2),tr.skipped>td:nth-child(2),tr.busy>td:nth-child(2){color:#a05a00;font-weight:bold}ul{margin:0;padding-left:1.2rem}
#summary ul{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}#summary li{border:1px solid #ccc;border-radius:.4rem;padding:.4rem .8rem}
#summary li b{font-size:1.4rem;margin-right:.3rem}li.ok b{color:#176f2c}li.failed b{color:#b00020}li.rolled-back b,li.skipped b{color:#a05a00}li.would-change b{color:#1a4fa0}
table.diff{margin:.4rem 0;font-family:ui-monospace,monospace;font-size:.85rem}table.diff caption{text-align:left;font-weight:bold;padding:.2rem 0}
table.diff td,table.diff th{overflow-wrap:anywhere;white-space:pre-wrap}table.diff th[scope=row]{width:28%}table.diff td{width:36%}details summary{cursor:pointer;margin-top:.3rem}p.no-change{color:#176f2c;margin:.3rem 0}
</style></head><body>
<h1>beacon-proxy local ${report.dryRun ? 'plan (dry run: nothing changed)' : 'run'}</h1>
<section id="summary"><ul>${summary}</ul>
<p id="fnms">FNMS &quot;Beacon version approved for use&quot;: <b>${escapeHtml(pinOutcome(report))}</b></p></section>
<p>Started ${escapeHtml(report.startedAt)}, finished ${escapeHtml(report.finishedAt)}. Fleet: <code>${escapeHtml(report.fleetDir)}</code>.</p>
<table><thead><tr><th>Beacon</th><th>Outcome</th><th>${report.dryRun ? 'Would change' : 'Changed'}</th><th>Checks failed</th><th>Version pinned</th><th>Details and changes</th><th>Request, requested by</th></tr></thead>
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
