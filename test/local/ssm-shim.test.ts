import { describe, expect, it } from 'vitest';
import { BEACON_DOCUMENTS } from '../../lambdas/core/document-contract.js';
import { ThrottledError } from '../../lambdas/core/ports.js';
import type { Fleet, FleetBeacon } from '../../local/fleet.js';
import { type DocumentExecutor, LocalSsm, SSM_OUTPUT_LIMITS, documentKind } from '../../local/ssm-shim.js';

function fleetOf(...beacons: Array<Partial<FleetBeacon> & { instanceId: string }>): Fleet {
  return {
    dir: '/nowhere',
    beacons: beacons.map((b) => ({ computerName: b.instanceId, platformType: 'Windows', pingStatus: 'Online', tags: {}, model: 'm.json', modelPath: '/nowhere/m.json', ...b })),
  };
}

const ok: DocumentExecutor = async () => ({ stdout: '{"ok":true}', stderr: '', exitCode: 0 });
const A = 'i-00000000000000001';
const B = 'i-00000000000000002';

describe('the local SSM shim behaves like Run Command where the pipeline depends on it', () => {
  it('maps deployed document names (with the stack suffix) to the three documents, and refuses others', () => {
    expect(documentKind(`${BEACON_DOCUMENTS.configure}-BeaconProxy`)).toBe('configure');
    expect(documentKind(BEACON_DOCUMENTS.rollback)).toBe('rollback');
    expect(() => documentKind('AWS-RunPowerShellScript')).toThrow(expect.objectContaining({ name: 'InvalidDocument' }));
  });

  it('refuses an instance that is not in the fleet, and more than 50 ids', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), ok);
    await expect(ssm.sendCommand([B], BEACON_DOCUMENTS.verify, {})).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    await expect(ssm.sendCommand(Array(51).fill(A), BEACON_DOCUMENTS.verify, {})).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('passes parameters to the executor and reports Success or Failed by exit code', async () => {
    const seen: Array<Record<string, string>> = [];
    const ssm = new LocalSsm(fleetOf({ instanceId: A }, { instanceId: B }), async (beacon, _kind, parameters) => {
      seen.push(parameters);
      return { stdout: 'out', stderr: '', exitCode: beacon.instanceId === A ? 0 : 1 };
    });
    const id = await ssm.sendCommand([A, B], BEACON_DOCUMENTS.configure, { DesiredState: ['abcd'] });
    await ssm.settle();
    expect(seen).toEqual([{ DesiredState: 'abcd' }, { DesiredState: 'abcd' }]);
    expect((await ssm.getInvocation(id, A))?.status).toBe('Success');
    expect((await ssm.getInvocation(id, B))?.status).toBe('Failed');
    expect(await ssm.getInvocation('nope', A)).toBeNull();
  });

  it('an offline beacon never runs the document: the invocation times out undelivered', async () => {
    let runs = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A, pingStatus: 'ConnectionLost' }), async () => {
      runs += 1;
      return { stdout: '', stderr: '', exitCode: 0 };
    });
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.configure, {});
    await ssm.settle();
    expect(runs).toBe(0);
    expect((await ssm.getInvocation(id, A))?.status).toBe('DeliveryTimedOut');
  });

  it('returns only the first 24,000 characters of stdout and 8,000 of stderr, as GetCommandInvocation does', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), async () => ({ stdout: 'o'.repeat(30_000), stderr: 'e'.repeat(9_000), exitCode: 0 }));
    const id = await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await ssm.settle();
    const invocation = await ssm.getInvocation(id, A);
    expect(invocation?.stdout).toHaveLength(SSM_OUTPUT_LIMITS.stdout);
    expect(invocation?.stderr).toHaveLength(SSM_OUTPUT_LIMITS.stderr);
  });

  it('throttles SendCommand beyond its rate with the error the workflow retries', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A }), ok, { sendCommandPerSecond: 2 });
    await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {});
    await expect(ssm.sendCommand([A], BEACON_DOCUMENTS.verify, {})).rejects.toBeInstanceOf(ThrottledError);
    expect(ssm.throttled).toBe(1);
    await ssm.settle();
  });

  it('never runs more invocations at once than its concurrency limit', async () => {
    let running = 0;
    let peak = 0;
    const ssm = new LocalSsm(fleetOf({ instanceId: A }, { instanceId: B }), async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running -= 1;
      return { stdout: '', stderr: '', exitCode: 0 };
    }, { maxConcurrentInvocations: 1 });
    for (let i = 0; i < 4; i += 1) await ssm.sendCommand([A, B], BEACON_DOCUMENTS.verify, {});
    await ssm.settle();
    expect(peak).toBe(1);
    expect(ssm.history).toHaveLength(8);
  });

  it('finds managed instances by id and by tag, with their ping status', async () => {
    const ssm = new LocalSsm(fleetOf({ instanceId: A, tags: { role: 'beacon' } }, { instanceId: B, pingStatus: 'ConnectionLost' }), ok);
    expect((await ssm.findManagedInstances({ tag: { key: 'role', value: 'beacon' } })).map((i) => i.instanceId)).toEqual([A]);
    expect(await ssm.findManagedInstances({ instanceIds: [B] })).toEqual([{ instanceId: B, computerName: B, platformType: 'Windows', pingStatus: 'ConnectionLost' }]);
  });
});
