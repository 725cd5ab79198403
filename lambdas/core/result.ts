import * as z from 'zod/mini';
import { type DiffEntry, DiffListSchema } from './change-diff.js';
import { MODULE_REFUSAL_CODES } from './document-contract.js';
import { LIMITS } from './limits.js';

/** One read-back comparison made on the beacon. */
export const CheckSchema = z.object({
  name: z.string(),
  expected: z.unknown(),
  actual: z.unknown(),
  ok: z.boolean(),
});
export type Check = z.infer<typeof CheckSchema>;

/**
 * The one JSON line every beacon document prints (beacon-procedure section 4). Extra fields are kept
 * for forward compatibility; the ones below are the contract.
 */
export const ResultLineSchema = z.looseObject({
  ok: z.boolean(),
  document: z.optional(z.enum(['configure', 'verify', 'rollback'])),
  requestId: z.nullish(z.string()),
  changed: z.array(z.string()),
  checks: z.array(CheckSchema),
  beaconVersion: z.nullable(z.string()),
  captureId: z.nullable(z.string()),
  error: z.nullable(z.object({ code: z.string(), message: z.string(), step: z.nullish(z.string()) })),
  rollback: z.nullish(
    z.object({
      attempted: z.boolean(),
      ok: z.boolean(),
      restored: z.optional(z.array(z.string())),
      error: z.nullish(z.string()),
      /** What the rollback put back: each value before it and as restored. */
      diff: z.optional(DiffListSchema),
    }),
  ),
  tasksFound: z.optional(z.array(z.string())),
  /**
   * Configure: what the run changed, each value before and after (read back). Verify (a plan): what a run
   * would change, the current value and the one a run writes. Absent from documents older than issue 15.
   */
  diff: z.optional(DiffListSchema),
  /** Passing checks the document left out to keep the line within its budget (RESULT_LINE). */
  checksOmitted: z.optional(z.number()),
});
export type ResultLine = z.infer<typeof ResultLineSchema>;

/**
 * The code a document reports when it did not get the beacon's named mutex in its bounded wait (another
 * beacon-proxy document was running there): it changed nothing.
 */
export const BEACON_BUSY_CODE = 'BEACON_BUSY';

/** What every parsed verdict carries besides its status. */
interface ParsedVerdict {
  checks: Check[];
  beaconVersion: string | null;
  captureId: string | null;
  /** The document's diff (configure: changed; verify: would change). */
  diff: DiffEntry[];
  /** What a rollback put back (the configure run's own, or the Rollback document's). */
  restoredDiff: DiffEntry[];
  result: ResultLine;
}

export type Verdict =
  | ({ status: 'not-run'; reasons: string[] } & ParsedVerdict)
  | ({ status: 'ok'; reasons: []; changed: string[] } & ParsedVerdict)
  | ({ status: 'failed'; reasons: string[] } & ParsedVerdict)
  | ({ status: 'rolled-back'; reasons: string[]; restored: string[] } & ParsedVerdict)
  | { status: 'unparseable'; reasons: string[] };

function failureReasons(line: ResultLine): string[] {
  const reasons: string[] = [];
  if (line.error) reasons.push(`${line.error.step ? `${line.error.step}: ` : ''}${line.error.code}: ${line.error.message}`);
  for (const check of line.checks) {
    if (!check.ok) reasons.push(`check ${check.name}: expected ${JSON.stringify(check.expected)}, found ${JSON.stringify(check.actual)}`);
  }
  if (line.rollback?.attempted && !line.rollback.ok) {
    reasons.push(`rollback failed${line.rollback.error ? `: ${line.rollback.error}` : ''}`);
  }
  if (reasons.length === 0) reasons.push('the beacon reported ok: false without a reason');
  return reasons;
}

/**
 * Judges the stdout of a beacon document. Finds the result line (the last line that is a JSON object),
 * and never throws: garbage, truncation or a missing line give `unparseable` with the reason.
 */
export function judgeResult(stdout: string | undefined | null): Verdict {
  if (!stdout || stdout.trim().length === 0) {
    return { status: 'unparseable', reasons: ['the document printed nothing on stdout'] };
  }
  const lines = stdout.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.startsWith('{'));
  const candidate = lines.at(-1);
  if (candidate === undefined) {
    return { status: 'unparseable', reasons: ['no JSON result line in the output (the document may have been cut short)'] };
  }
  if (candidate.length > LIMITS.maxResultLineLength) {
    return { status: 'unparseable', reasons: [`the result line is ${candidate.length} characters, over the ${LIMITS.maxResultLineLength} allowed`] };
  }
  let json: unknown;
  try {
    json = JSON.parse(candidate);
  } catch {
    return { status: 'unparseable', reasons: ['the result line is not valid JSON (output truncated?)'] };
  }
  const parsed = ResultLineSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { status: 'unparseable', reasons: [`the result line does not match the contract at ${issue?.path.join('.') || '$'}: ${issue?.message ?? 'invalid'}`] };
  }
  const line = parsed.data;
  const common = { checks: line.checks, beaconVersion: line.beaconVersion, captureId: line.captureId, diff: line.diff ?? [], restoredDiff: line.rollback?.diff ?? [], result: line };
  if (!line.ok && line.error?.code === BEACON_BUSY_CODE) {
    // The document never took the beacon: it did not run and changed nothing.
    return { status: 'not-run', reasons: [`${BEACON_BUSY_CODE}: ${line.error.message}`], ...common };
  }
  if (!line.ok && line.error && (MODULE_REFUSAL_CODES as readonly string[]).includes(line.error.code)) {
    // The document refused its module (not downloaded, or not the SHA-256 it pins) before touching the beacon.
    return { status: 'not-run', reasons: [`${line.error.code}: ${line.error.message}`], ...common };
  }
  const failedChecks = line.checks.some((check) => !check.ok);
  if (line.ok && !failedChecks && !line.error) {
    return { status: 'ok', reasons: [], changed: line.changed, ...common };
  }
  if (line.ok && (failedChecks || line.error)) {
    // A beacon that says ok while a read-back check failed is not believed.
    return { status: 'failed', reasons: ['the beacon reported ok but a check failed', ...failureReasons(line)], ...common };
  }
  if (line.rollback?.attempted && line.rollback.ok) {
    return { status: 'rolled-back', reasons: failureReasons(line), restored: line.rollback.restored ?? [], ...common };
  }
  return { status: 'failed', reasons: failureReasons(line), ...common };
}
