/**
 * Small rules of the ports (lambdas/core/ports.ts) users meet: the workflow execution name (one per request
 * and beacon, within Step Functions' 80 characters), who a notification is about, and the names of the
 * retryable errors the state machine matches.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BeaconBusyError, RETRYABLE_ERRORS, ThrottledError, TransientError, notificationKind, workflowExecutionName } from '../../lambdas/core/ports.js';

const I = 'i-0123456789abcdef0';

describe('the execution name of a beacon workflow', () => {
  it('requestId--instanceId up to 80 characters; longer ones shortened with a digest of the whole, still 80', () => {
    const fits = 'r'.repeat(80 - I.length - 2);
    expect(workflowExecutionName(fits, I)).toBe(`${fits}--${I}`);
    expect(workflowExecutionName(fits, I)).toHaveLength(80);
    const long = `${fits}x`;
    const digest = createHash('sha256').update(`${long}--${I}`).digest('hex').slice(0, 12);
    expect(workflowExecutionName(long, I)).toBe(`${long.slice(0, 80 - I.length - 15)}-${digest}--${I}`);
    expect(workflowExecutionName(long, I)).toHaveLength(80);
    expect(workflowExecutionName(`${fits}y`, I)).not.toBe(workflowExecutionName(long, I));
  });
});

describe('who a notification is about', () => {
  it('as given, else a beacon when it names one, else the request', () => {
    expect(notificationKind({ kind: 'request', instanceId: I })).toBe('request');
    expect(notificationKind({ instanceId: I })).toBe('beacon');
    expect(notificationKind({})).toBe('request');
  });
});

describe('retryable errors', () => {
  it('carry the names the state machine retries on', () => {
    expect([new ThrottledError('x').name, new TransientError('x').name, new BeaconBusyError('x').name]).toEqual(['ThrottledError', 'TransientError', 'BeaconBusyError']);
    expect(RETRYABLE_ERRORS).toMatchObject({ throttled: 'ThrottledError', transient: 'TransientError', beaconBusy: 'BeaconBusyError' });
  });
});
