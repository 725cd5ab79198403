/**
 * The per-beacon day-2 commands of the operator CLI against a deployed stack (signed like every remote
 * call): `beacon <instanceId>` shows its history across requests, `rollback <instanceId>` restores its last
 * capture, `retry <instanceId>` runs its last request again. The API decides; this only asks and shows.
 */
import type { BeaconHistoryEntry } from '../lambdas/core/beacon-history.js';
import { renderBeaconChanges } from '../lambdas/core/change-summary.js';
import { type RemoteCall, type RemoteDeps, type RemoteIo, REMOTE_EXIT, type WatchOptions, apiFailure, showStatus, signedApiCall } from './remote.js';

export interface BeaconHistoryView {
  instanceId: string;
  entries: BeaconHistoryEntry[];
  nextCursor: string | null;
}

export async function fetchBeaconHistory(call: RemoteCall, instanceId: string, page: { limit?: number; cursor?: string | null }): Promise<BeaconHistoryView> {
  const url = new URL(`beacons/${encodeURIComponent(instanceId)}`, call.apiUrl);
  if (page.limit) url.searchParams.set('limit', String(page.limit));
  if (page.cursor) url.searchParams.set('cursor', page.cursor);
  const response = await signedApiCall(url, 'GET', undefined, call);
  if (response.status === 200) return response.body as BeaconHistoryView;
  throw apiFailure(response, 'read the beacon\'s history', 'read');
}

/** One line per run, newest first: when, which request, what kind, the outcome, from where and by whom; with `diff` each change. */
export function renderBeaconHistory(view: BeaconHistoryView, options: { diff?: boolean } = {}): string {
  const lines = [`beacon ${view.instanceId}: ${view.entries.length === 0 ? 'no request has touched it' : `${view.entries.length} run(s), newest first`}`];
  for (const entry of view.entries) {
    const who = [entry.source ? `from ${entry.source}` : '', entry.requestedBy ? `by ${entry.requestedBy}` : ''].filter(Boolean).join(' ');
    const link = entry.linkedTo ? `  (${entry.linkedTo.kind} of ${entry.linkedTo.requestId})` : '';
    const what = entry.kind === 'rollback' ? `restore the capture of ${String(entry.applied?.captureId ?? '?')}` : entry.applied?.proxy ? `proxy ${String(entry.applied.proxy)}` : '';
    lines.push(`  ${entry.updatedAt}  ${entry.requestId}  ${entry.kind.padEnd(9)} ${entry.state.padEnd(11)} ${[what, who].filter(Boolean).join(', ')}${link}`.trimEnd());
    if (entry.reasons.length > 0 && entry.state !== 'ok') lines.push(`      why: ${entry.reasons[0]}`);
    if (options.diff) lines.push(...renderBeaconChanges(entry).slice(1).map((line) => `    ${line}`));
  }
  if (view.nextCursor) lines.push(`older runs: add --cursor ${view.nextCursor} (or --all)`);
  return `${lines.join('\n')}\n`;
}

export async function showBeaconHistory(
  call: RemoteCall,
  instanceId: string,
  options: { limit?: number; cursor?: string | null; all: boolean; json: boolean; diff: boolean },
  io: RemoteIo,
): Promise<number> {
  let view = await fetchBeaconHistory(call, instanceId, options);
  if (options.all) {
    const entries = [...view.entries];
    while (view.nextCursor) {
      view = await fetchBeaconHistory(call, instanceId, { limit: options.limit, cursor: view.nextCursor });
      entries.push(...view.entries);
    }
    view = { instanceId, entries, nextCursor: null };
  }
  io.stdout(options.json ? `${JSON.stringify(view, null, 2)}\n` : renderBeaconHistory(view, { diff: options.diff }));
  return REMOTE_EXIT.ok;
}

/** POST /beacons/{id}/rollback or /retry; prints the API's answer and, watching, the new run's status. */
export async function runBeaconCommand(call: RemoteCall, instanceId: string, command: 'rollback' | 'retry', watch: WatchOptions, io: RemoteIo, deps: RemoteDeps): Promise<number> {
  const response = await signedApiCall(new URL(`beacons/${encodeURIComponent(instanceId)}/${command}`, call.apiUrl), 'POST', '{}', call);
  if (response.status < 200 || response.status >= 300) throw apiFailure(response, command === 'rollback' ? 'roll the beacon back' : 'retry the beacon\'s last request', 'submit');
  io.stdout(`${JSON.stringify(response.body, null, 2)}\n`);
  const requestId = (response.body as { requestId?: string }).requestId;
  if (!watch.watch || !requestId) return REMOTE_EXIT.ok;
  return showStatus(call, requestId, watch, io, deps);
}
