import { describe, expect, it } from 'vitest';
import { judgeResult } from '../../lambdas/core/result.js';

const okLine = {
  ok: true,
  document: 'configure',
  requestId: 'r1',
  changed: ['registry:Common\\https_proxy'],
  checks: [{ name: 'registry:Common\\https_proxy', expected: 'https://p:1', actual: 'https://p:1', ok: true }],
  beaconVersion: '13.2.0',
  captureId: 'r1',
  error: null,
  rollback: null,
};

const line = (value: unknown) => `transcript noise\n${JSON.stringify(value)}\n`;

describe('judging a beacon result', () => {
  it('ok when the beacon says ok and every read-back check passed', () => {
    const verdict = judgeResult(line(okLine));
    expect(verdict).toMatchObject({ status: 'ok', changed: okLine.changed, beaconVersion: '13.2.0', captureId: 'r1' });
  });

  it('does not believe ok when a check failed', () => {
    const verdict = judgeResult(line({ ...okLine, checks: [{ name: 'service:logon', expected: 'CORP\\svc', actual: 'LocalSystem', ok: false }] }));
    expect(verdict.status).toBe('failed');
    expect(verdict.reasons.join(' ')).toContain('service:logon');
  });

  it('rolled back when the beacon failed and restored the capture', () => {
    const verdict = judgeResult(
      line({
        ...okLine,
        ok: false,
        error: { code: 'SERVICE_START_FAILED', message: 'service did not reach Running in 120 s', step: 'service' },
        rollback: { attempted: true, ok: true, restored: ['registry', 'service'], error: null },
      }),
    );
    expect(verdict).toMatchObject({ status: 'rolled-back', restored: ['registry', 'service'] });
    expect(verdict.reasons[0]).toBe('service: SERVICE_START_FAILED: service did not reach Running in 120 s');
  });

  it('failed when the rollback failed too, and says so', () => {
    const verdict = judgeResult(
      line({ ...okLine, ok: false, error: { code: 'X', message: 'boom' }, rollback: { attempted: true, ok: false, error: 'key locked' } }),
    );
    expect(verdict.status).toBe('failed');
    expect(verdict.reasons).toContain('rollback failed: key locked');
  });

  it('failed without rollback when none was attempted', () => {
    expect(judgeResult(line({ ...okLine, ok: false, error: { code: 'X', message: 'y' } })).status).toBe('failed');
  });

  it.each([
    ['', 'printed nothing'],
    [null, 'printed nothing'],
    ['just text', 'no JSON result line'],
    ['{"ok": tru', 'not valid JSON'],
    ['{"ok": "yes"}', 'does not match the contract'],
    [`{"ok":true,"changed":[],"checks":[],"beaconVersion":null,"captureId":null,"error":null,"pad":"${'x'.repeat(20000)}"}`, 'over the'],
  ])('unparseable, never a throw, for %j', (stdout, reason) => {
    const verdict = judgeResult(stdout as string);
    expect(verdict.status).toBe('unparseable');
    expect(verdict.reasons[0]).toContain(reason);
  });

  it('takes the last JSON line when the transcript has others', () => {
    const stdout = `${JSON.stringify({ progress: 1 })}\n${JSON.stringify(okLine)}\r\n`;
    expect(judgeResult(stdout).status).toBe('ok');
  });
});
