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

describe('judging a beacon result: every reason in words (issue 14)', () => {
  it('ok with a failed check or an error is failed, saying so first, then each reason', () => {
    const failedCheck = { name: 'service:logon', expected: 'CORP\\svc', actual: 'LocalSystem', ok: false };
    expect(judgeResult(line({ ...okLine, checks: [failedCheck] })).reasons).toEqual(['the beacon reported ok but a check failed', 'check service:logon: expected "CORP\\\\svc", found "LocalSystem"']);
    expect(judgeResult(line({ ...okLine, error: { code: 'E', message: 'm', step: null } })).reasons).toEqual(['the beacon reported ok but a check failed', 'E: m']);
  });

  it('a failure without any reason says so; a failed rollback says why when it knows', () => {
    expect(judgeResult(line({ ...okLine, ok: false })).reasons).toEqual(['the beacon reported ok: false without a reason']);
    expect(judgeResult(line({ ...okLine, ok: false, rollback: { attempted: true, ok: false, error: 'access denied' } })).reasons).toEqual(['rollback failed: access denied']);
    expect(judgeResult(line({ ...okLine, ok: false, rollback: { attempted: true, ok: false } })).reasons).toEqual(['rollback failed']);
    expect(judgeResult(line({ ...okLine, ok: false, rollback: { attempted: false, ok: false } })).reasons).toEqual(['the beacon reported ok: false without a reason']);
  });

  it('BEACON_BUSY and module refusals did not run, with the code and message as the reason', () => {
    expect(judgeResult(line({ ...okLine, ok: false, changed: [], error: { code: 'BEACON_BUSY', message: 'held', step: 'start' } }))).toMatchObject({ status: 'not-run', reasons: ['BEACON_BUSY: held'] });
    expect(judgeResult(line({ ...okLine, ok: false, changed: [], error: { code: 'MODULE_NOT_FOUND', message: 'gone', step: 'download' } }))).toMatchObject({ status: 'not-run', reasons: ['MODULE_NOT_FOUND: gone'] });
    expect(judgeResult(line({ ...okLine, ok: true, error: { code: 'BEACON_BUSY', message: 'x' } })).status).toBe('failed');
  });

  it('ok has no reasons', () => {
    expect(judgeResult(line(okLine)).reasons).toEqual([]);
  });

  it('a rollback that restored: its restored list (none named: empty)', () => {
    const rolled = judgeResult(line({ ...okLine, ok: false, error: { code: 'E', message: 'm' }, rollback: { attempted: true, ok: true } }));
    expect(rolled).toMatchObject({ status: 'rolled-back', restored: [] });
  });

  it('unparseable: nothing printed, blanks only, no line, a line past the limit, broken JSON, the contract broken at a named field', () => {
    expect(judgeResult('')).toEqual({ status: 'unparseable', reasons: ['the document printed nothing on stdout'] });
    expect(judgeResult(' \n\t')).toEqual({ status: 'unparseable', reasons: ['the document printed nothing on stdout'] });
    expect(judgeResult(null)).toEqual({ status: 'unparseable', reasons: ['the document printed nothing on stdout'] });
    expect(judgeResult('text only')).toEqual({ status: 'unparseable', reasons: ['no JSON result line in the output (the document may have been cut short)'] });
    expect(judgeResult(`  ${JSON.stringify(okLine)}  \r\n`).status).toBe('ok');
    const padded = (n: number) => JSON.stringify({ ...okLine, pad: 'x'.repeat(n) });
    const fill = 16 * 1024 - JSON.stringify(okLine).length - 9;
    expect(padded(fill)).toHaveLength(16 * 1024);
    expect(judgeResult(padded(fill)).status).toBe('ok');
    expect(judgeResult(padded(fill + 1))).toEqual({ status: 'unparseable', reasons: [`the result line is ${16 * 1024 + 1} characters, over the ${16 * 1024} allowed`] });
    expect(judgeResult('{"ok":')).toEqual({ status: 'unparseable', reasons: ['the result line is not valid JSON (output truncated?)'] });
    expect(judgeResult(JSON.stringify({ ...okLine, checks: [{ name: 1 }] })).reasons[0]).toMatch(/^the result line does not match the contract at checks\.0\.name: /);
  });
});
