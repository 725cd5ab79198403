/**
 * Tag fan-out on the strict twin (issue 10.1): a tag target of N beacons (default 50,000) expanded page by
 * page and started in waves by the request workflow, with the template's function timeouts enforced (scaled),
 * dynalite (in a process of its own), the intake queue's redrive. No pin (pinMode none): the synthetic fleet is
 * not in the FNMS stub's inventory, and the pin is not what is measured. Beacon workflows are synthetic (each ends ok at once): what is
 * measured is the fan-out. Prints one JSON line: beacons, wall time, starts per second, peak RSS and heap,
 * exactly-once and DLQ checks.
 *
 *   npx tsx bench/fanout.ts [beacons] [msPerSecond]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFleet } from '../local/fleet.js';
import { syntheticBeacons, syntheticExecutor, writeSyntheticFleet } from '../local/synthetic-fleet.js';
import { LOCAL_BEACON_TAG, LocalTwin } from '../local/twin.js';

const beacons = Number(process.argv[2] ?? 50_000);
const msPerSecond = Number(process.argv[3] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-fanout-bench-'));
writeSyntheticFleet(dir, syntheticBeacons(beacons));
const twin = await LocalTwin.create({ fleet: await loadFleet(dir), workDir: join(dir, 'work'), msPerSecond, executor: syntheticExecutor(10), syntheticBeaconWorkflows: true, minFunctionTimeoutMs: 2000, dynamoOwnProcess: true, pinMode: 'none' });
global.gc?.();
const baseHeap = process.memoryUsage().heapUsed;
let peakRss = 0;
let peakHeap = 0;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  peakRss = Math.max(peakRss, usage.rss);
  peakHeap = Math.max(peakHeap, usage.heapUsed);
}, 250);
const started = Date.now();
twin.submit({
  requestId: 'fanout-bench',
  target: { tag: { key: LOCAL_BEACON_TAG.key, value: LOCAL_BEACON_TAG.value } },
  protocol: 'https',
  proxy: 'proxy.corp.example:8080',
  account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf' },
  rollout: { canary: 0, waveSize: '100%', maxConcurrency: '100%' },
});
await twin.drain();
const seconds = (Date.now() - started) / 1000;
clearInterval(sampler);
const rollout = await twin.rollouts.getRollout('fanout-bench');
const duplicates = [...twin.beaconStarts.values()].filter((count) => count !== 1).length;
const timeouts = twin.taskLog.filter((entry) => entry.execution === 'fanout-bench' && entry.outcome === 'timeout').length;
console.log(
  JSON.stringify({
    beacons,
    msPerSecond,
    wallSeconds: Math.round(seconds),
    startsPerSecond: Math.round(twin.beaconStarts.size / seconds),
    started: twin.beaconStarts.size,
    duplicates,
    deadLetters: twin.deadLetters.length,
    outcome: rollout?.outcome?.state ?? null,
    finished: rollout?.finished ?? null,
    stepTimeouts: timeouts,
    peakRssMb: Math.round(peakRss / 1048576),
    peakHeapMb: Math.round(peakHeap / 1048576),
    baseHeapMb: Math.round(baseHeap / 1048576),
  }),
);
await twin.stop();
