/**
 * When a run leaves a drift baseline (lambdas/core/baseline.ts): only a configure that ended configured and
 * verified (ok, or ok with only the pin failed) writes one, as the request content without its delivery
 * fields; a dry run or any other outcome leaves the old one; a confirmed per-beacon rollback leaves a hold.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BASELINE_STATES, DELIVERY_FIELDS, baselineAfterRun, baselineContent, contentDigest, heldBaseline } from '../../lambdas/core/baseline.js';
import { canonicalJson } from '../../lambdas/core/canonical-json.js';

const request = { requestId: 'chg-1', target: { instanceIds: ['i-1'] }, dryRun: false, rollout: { maxErrors: 1 }, protocol: 'https', proxy: 'p.example:8080' };
const run = { instanceId: 'i-1', requestId: 'chg-1', request, source: 'api' as const, receivedAt: '2026-01-01T00:00:00.000Z', dryRun: false };
const AT = '2026-01-01T01:00:00.000Z';

describe('the baseline content', () => {
  it('the request without where, when and how it is delivered', () => {
    expect(DELIVERY_FIELDS).toEqual(['requestId', 'target', 'dryRun', 'rollout']);
    expect(baselineContent(request)).toEqual({ protocol: 'https', proxy: 'p.example:8080' });
    expect(request.requestId).toBe('chg-1');
  });

  it('its digest is the sha256 of its canonical JSON: the same content in any key order is one digest', () => {
    expect(contentDigest({ b: 1, a: 2 })).toBe(createHash('sha256').update(canonicalJson({ a: 2, b: 1 })).digest('hex'));
    expect(contentDigest({ b: 1, a: 2 })).toBe(contentDigest({ a: 2, b: 1 }));
    expect(contentDigest({ a: 1 })).not.toBe(contentDigest({ a: 2 }));
  });
});

describe('which runs leave a baseline', () => {
  it('ok and pin-failed: configured and verified', () => {
    expect(BASELINE_STATES).toEqual(['ok', 'pin-failed']);
    const content = { protocol: 'https', proxy: 'p.example:8080' };
    const expected = { instanceId: 'i-1', content, digest: contentDigest(content), requestId: 'chg-1', source: 'api', order: '2026-01-01T00:00:00.000Z#chg-1', lastAppliedBy: 'chg-1', appliedAt: AT };
    expect(baselineAfterRun(run, 'ok', AT)).toEqual(expected);
    expect(baselineAfterRun(run, 'pin-failed', AT)).toEqual(expected);
  });

  it('every other outcome, and any dry run, leaves none', () => {
    for (const state of ['rolled-back', 'failed', 'error', 'not-run', 'busy', 'superseded', 'skipped', 'dry-run', 'cancelled'] as const) {
      expect(baselineAfterRun(run, state, AT), state).toBeNull();
    }
    expect(baselineAfterRun({ ...run, dryRun: true }, 'ok', AT)).toBeNull();
  });

  it('a per-beacon rollback that restored its capture leaves a hold (newer than what it undid); one that did not, nothing', () => {
    const rollback = { ...run, requestId: 'rollback-1', receivedAt: '2026-01-02T00:00:00.000Z', action: { kind: 'rollback' as const, captureId: 'chg-1' } };
    const held = baselineAfterRun(rollback, 'rolled-back', AT);
    expect(held).toEqual({
      instanceId: 'i-1',
      content: null,
      hold: { reason: 'rolled-back', restoredCapture: 'chg-1' },
      digest: createHash('sha256').update('hold\0rollback-1').digest('hex'),
      requestId: 'rollback-1',
      source: 'api',
      order: '2026-01-02T00:00:00.000Z#rollback-1',
      lastAppliedBy: 'rollback-1',
      appliedAt: AT,
    });
    expect(heldBaseline(rollback, 'chg-1', AT)).toEqual(held);
    expect(baselineAfterRun(rollback, 'ok', AT)).toBeNull();
    expect(baselineAfterRun(rollback, 'failed', AT)).toBeNull();
  });
});
