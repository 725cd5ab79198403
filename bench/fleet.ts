/**
 * Fleet scale in the local twin: one tag request over N simulated beacons (intake expands the tag, one
 * workflow per beacon, the synthesized state machine with the real handlers), SSM answered by the shim
 * with a SendCommand rate limit, a concurrency limit and a delivery latency, and a synthetic document run
 * that prints a valid configure result line after a modelled latency. Completion time is compared with the
 * bound the limits allow: every beacon needs one SendCommand, so the fleet cannot finish before N / rate.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Retrier, retryDelaysSeconds } from '../infra/workflow-definition.js';
import { LIMITS } from '../lambdas/core/limits.js';
import type { ResultLine } from '../lambdas/core/result.js';
import { builtinFnmsState } from '../local/builtin-fleet.js';
import { FLEET_FILE, loadFleet } from '../local/fleet.js';
import type { DocumentExecutor } from '../local/ssm-shim.js';
import { LOCAL_BEACON_TAG, LocalTwin } from '../local/twin.js';

// The healthy beacon's result line is the synthetic fleet's (local/synthetic-fleet.ts): one definition.
export { SYNTHETIC_BEACON_VERSION as FLEET_BEACON_VERSION, syntheticConfigureResult } from '../local/synthetic-fleet.js';
import { SYNTHETIC_BEACON_VERSION as FLEET_BEACON_VERSION, syntheticConfigureResult } from '../local/synthetic-fleet.js';

/** A document executor that answers like a configured beacon after `latencyMs`, without PowerShell. */
export function syntheticExecutor(latencyMs: number): DocumentExecutor {
  return async (_beacon, kind) => {
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (kind !== 'configure') return { stdout: '', stderr: `the synthetic beacon only runs configure, not ${kind}`, exitCode: 1 };
    const line = JSON.stringify(syntheticConfigureResult(null));
    if (line.length > LIMITS.maxResultLineLength) throw new Error('the synthetic result line is over the limit');
    return { stdout: `${line}\n`, stderr: '', exitCode: 0 };
  };
}

export interface FleetRunOptions {
  beacons: number;
  /** SendCommand calls per second the shim allows (token bucket, burst of one second). */
  sendCommandPerSecond: number;
  maxConcurrentInvocations: number;
  /** The request's rollout.maxConcurrency: beacons in flight at once (canary 0, one wave of every beacon). */
  maxConcurrency: number;
  deliveryLatencyMs: number;
  /** How long the synthetic document runs on a beacon. */
  documentLatencyMs: number;
  /** Milliseconds standing for one second of the workflow's Wait and Retry timings. */
  msPerSecond: number;
  /** Retry waits drawn as JitterStrategy FULL draws them in AWS (TwinOptions.retryJitter). */
  retryJitter?: boolean;
  /** Print progress to stderr every 5 s. */
  progress?: boolean;
  /** Give up waiting after this long and report how far the fleet got. */
  deadlineMs?: number;
}

export interface FleetRunResult extends FleetRunOptions {
  /** Lower bound on completion: beacons / rate (the shim's burst allowance ignored). */
  boundMs: number;
  completionMs: number;
  /** Whether every workflow ended before the deadline; else completionMs is the deadline. */
  finished: boolean;
  /** Workflows ended. */
  done: number;
  /** From the first to the last accepted SendCommand. */
  sendSpanMs: number;
  /** From the request to the first accepted SendCommand (intake, resolve, lock). */
  firstSendMs: number;
  /** From the last accepted SendCommand to completion (delivery, run, polls, judge, pin, record). */
  afterLastSendMs: number;
  outcomes: Record<string, number>;
  sendCalls: number;
  throttled: number;
  /** process.memoryUsage() after GC: before the request, after completion; and the peaks seen while running. */
  heapBeforeBytes: number;
  heapAfterBytes: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  peakHeapBytes: number;
  peakRssBytes: number;
  /** Event-loop delay p99 while running (ms): how busy the single thread was. */
  loopDelayP99Ms: number;
  cpuUserMs: number;
  cpuSystemMs: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
  collect();
}

function instanceId(index: number): string {
  return `i-${index.toString(16).padStart(17, '0')}`;
}

/** Writes a fleet directory of N tagged, online Windows beacons sharing one (unused) model file. */
function writeFleet(dir: string, count: number): void {
  writeFileSync(join(dir, 'unused-model.json'), '{}\n');
  const beacons = Array.from({ length: count }, (_, index) => ({
    instanceId: instanceId(index + 1),
    computerName: `BEACON${String(index + 1).padStart(5, '0')}`,
    platformType: 'Windows',
    pingStatus: 'Online',
    tags: { [LOCAL_BEACON_TAG.key]: LOCAL_BEACON_TAG.value },
    model: 'unused-model.json',
  }));
  writeFileSync(join(dir, FLEET_FILE), JSON.stringify({ beacons }));
}

export async function runFleet(options: FleetRunOptions): Promise<FleetRunResult> {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-bench-fleet-'));
  try {
    writeFleet(dir, options.beacons);
    // Where the executions are (the last Task state each entered), for the progress lines.
    const stateOf = new Map<string, string>();
    const inState = new Map<string, number>();
    const fleet = await loadFleet(dir);
    const twin = await LocalTwin.create({
      fleet,
      workDir: join(dir, 'work'),
      executor: syntheticExecutor(options.documentLatencyMs),
      limits: {
        sendCommandPerSecond: options.sendCommandPerSecond,
        maxConcurrentInvocations: options.maxConcurrentInvocations,
        deliveryLatencyMs: options.deliveryLatencyMs,
      },
      msPerSecond: options.msPerSecond,
      // DynamoDB is its own service in AWS: its engine's CPU is not charged to the pipeline here either.
      dynamoOwnProcess: true,
      onState: (id, _requestId, state) => {
        const previous = stateOf.get(id);
        if (previous) inState.set(previous, (inState.get(previous) ?? 1) - 1);
        stateOf.set(id, state);
        inState.set(state, (inState.get(state) ?? 0) + 1);
      },
      retryJitter: options.retryJitter ?? false,
      fnms: { state: { ...builtinFnmsState(fleet.beacons.map((b) => b.computerName)), approvedVersion: FLEET_BEACON_VERSION } },
    });
    gc();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    const started = performance.now();
    let ticks = 0;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, now.heapUsed);
      peakRss = Math.max(peakRss, now.rss);
      ticks += 1;
      if (options.progress && ticks % 20 === 0) {
        const seconds = ((performance.now() - started) / 1000).toFixed(0);
        process.stderr.write(`  fleet ${options.beacons}: ${seconds} s, ${twin.ssm.sent.length} sent, ${twin.ssm.throttled} throttled, ${twin.results.size} done, heap ${(now.heapUsed / 2 ** 20).toFixed(0)} MB; in ${[...inState].filter(([, n]) => n > 0).map(([state, n]) => `${state} ${n}`).join(', ')}\n`);
      }
    }, 250);
    const loop = monitorEventLoopDelay({ resolution: 20 });
    loop.enable();
    const cpu = process.cpuUsage();
    const requestId = `bench-fleet-${options.beacons}`;
    twin.submit({
      requestId,
      target: { tag: { key: LOCAL_BEACON_TAG.key, value: LOCAL_BEACON_TAG.value } },
      protocol: 'https',
      proxy: 'proxy.corp.example:8080',
      bypass: ['*.corp.example', '<local>'],
      account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:beacon/svc-beacon-AbCdEf' },
      beaconVersion: { pin: 'current' },
      // One wave of every beacon, as many in flight as SSM can take: the SSM rate, not the rollout's default
      // waves (a canary, 25 % waves, 50 at once), is what is measured.
      rollout: { canary: 0, waveSize: '100%', maxConcurrency: options.maxConcurrency },
    });
    // A run that cannot finish in time still reports how far it got (the bench has ten minutes in all).
    let deadline: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      twin.drain().then(() => true),
      new Promise<boolean>((resolve) => (deadline = setTimeout(() => resolve(false), options.deadlineMs ?? 2 ** 31 - 1))),
    ]);
    clearTimeout(deadline);
    const completionMs = performance.now() - started;
    const done = twin.results.size;
    const cpuUsed = process.cpuUsage(cpu);
    loop.disable();
    clearInterval(sampler);
    const status = await twin.store.getRequestStatus(requestId);
    const outcomes: Record<string, number> = {};
    for (const beacon of status?.beacons ?? []) outcomes[beacon.state] = (outcomes[beacon.state] ?? 0) + 1;
    const sends = twin.ssm.sent.map((s) => s.at);
    const firstSend = sends.length ? Math.min(...sends) : 0;
    const lastSend = sends.length ? Math.max(...sends) : 0;
    const startedAt = Date.now() - completionMs;
    const result = {
      sendCalls: sends.length,
      throttled: twin.ssm.throttled,
      sendSpanMs: lastSend - firstSend,
      firstSendMs: firstSend - startedAt,
      afterLastSendMs: Date.now() - lastSend,
    };
    if (finished) await twin.stop();
    gc();
    const after = process.memoryUsage();
    return {
      ...options,
      boundMs: (options.beacons / options.sendCommandPerSecond) * 1000,
      completionMs,
      finished,
      done,
      ...result,
      outcomes,
      heapBeforeBytes: before.heapUsed,
      heapAfterBytes: after.heapUsed,
      rssBeforeBytes: before.rss,
      rssAfterBytes: after.rss,
      peakHeapBytes: Math.max(peakHeap, after.heapUsed),
      peakRssBytes: Math.max(peakRss, after.rss),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      cpuUserMs: cpuUsed.user / 1000,
      cpuSystemMs: cpuUsed.system / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The longest a throttled SendConfigure keeps retrying, in workflow seconds: the sum of its retrier's series
 * (with JitterStrategy FULL each wait is drawn between 0 and its series value, so about half of it on average).
 */
export function throttleRetryWindowSeconds(definition: { States: Record<string, Record<string, unknown>> }, stateName = 'SendConfigure'): number {
  const retriers = (definition.States[stateName]?.Retry ?? []) as Retrier[];
  const retrier = retriers.find((r) => r.ErrorEquals.includes('ThrottledError'));
  if (!retrier) throw new Error(`${stateName} has no Retry for ThrottledError`);
  return retryDelaysSeconds(retrier).reduce((sum, delay) => sum + delay, 0);
}
