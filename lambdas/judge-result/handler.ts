/** JudgeConfigure / JudgeRollback: the core's judgement of the document's result line, trimmed to what later steps need. */
import { judgeResult } from '../core/result.js';
import type { JudgedResult } from '../workflow/state.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface JudgeResultEvent {
  status: string;
  stdout: string;
  stderr?: string;
}

export function createJudgeResultHandler() {
  return async function judge(event: JudgeResultEvent): Promise<JudgedResult> {
    const verdict = judgeResult(event.stdout);
    if (verdict.status === 'unparseable') {
      const stderr = (event.stderr ?? '').trim().split(/\r?\n/).at(-1);
      const reasons = [...verdict.reasons, `Run Command status ${event.status}`, ...(stderr ? [`stderr: ${stderr.slice(0, 500)}`] : [])];
      return { status: 'unparseable', reasons, changed: [], checks: [], beaconVersion: null, captureId: null };
    }
    const common = { checks: verdict.checks, beaconVersion: verdict.beaconVersion, captureId: verdict.captureId };
    if (verdict.status === 'ok') {
      // A result line that says ok from a run that SSM marks failed is not believed.
      if (event.status !== 'Success') return { status: 'failed', reasons: [`Run Command status ${event.status} although the result line says ok`], changed: verdict.changed, ...common };
      return { status: 'ok', reasons: [], changed: verdict.changed, ...common };
    }
    if (verdict.status === 'rolled-back') return { status: 'rolled-back', reasons: verdict.reasons, changed: verdict.restored, ...common };
    return { status: 'failed', reasons: verdict.reasons, changed: verdict.result.changed, ...common };
  };
}

export const handler = lambdaEntry(() => createJudgeResultHandler());
