/**
 * `npm run mutation`: mutation testing of the decision code (issue 14). Runs StrykerJS (stryker.config.mjs:
 * vitest runner, per-test coverage, the fast unit tests of vitest.mutation.config.ts), then writes
 * bench/mutation.md from its JSON report: the score per file, the totals for lambdas/core/** and for each
 * file that decides outcomes, and every mutant no test detects, with the reason it may stay (from
 * bench/mutation-explanations.json) or UNEXPLAINED.
 *
 *   npm run mutation                         both runs (incremental: only mutants whose code or tests changed rerun)
 *   npm run mutation -- --with-static        lambdas/core/** with its static mutants too (hours)
 *   npm run mutation -- --only <group>       one run: outcome, core, core-facts, core-chatops or core-fnms (the report joins every group's last report)
 *   MUTATION_CONCURRENCY=1 npm run mutation  Stryker's test runner processes (default 2), e.g. 1 on a shared machine
 *   npm run mutation -- --full               a run from scratch (the incremental file is not read)
 *   npm run mutation -- --mutate <file>...   only these files; the report goes to reports/mutation/partial.md
 *   npm run mutation -- --mutate <file:lines>... --into <group>   re-run these mutants (after new tests) and apply the
 *                                            results to that group's report (the source must be unchanged since its run)
 *   npm run mutation -- --report-only        rewrite bench/mutation.md from the last JSON report, no run
 *   --check                                  exit 1 when a gated file is under 90 % or a mutant is unexplained
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const JSON_REPORT = join(ROOT, 'reports', 'mutation', 'mutation.json');
const PARTIAL_JSON_REPORT = join(ROOT, 'reports', 'mutation', 'partial.json');
const REPORT = join(ROOT, 'bench', 'mutation.md');
const PARTIAL_REPORT = join(ROOT, 'reports', 'mutation', 'partial.md');
const EXPLANATIONS = join(ROOT, 'bench', 'mutation-explanations.json');
const RUN_LOG = join(ROOT, 'reports', 'mutation', 'last-run.json');

/** The gate of issue 14: every group below is at least this score, and every undetected mutant is explained. */
export const MINIMUM_SCORE = 90;

/** The files that decide outcomes, each gated on its own (lambdas/core/** is gated as one group and per file). */
export const OUTCOME_FILES = [
  'lambdas/workflow/changes.ts',
  'lambdas/workflow/outcome.ts',
  'lambdas/workflow/state.ts',
  'lambdas/poll-command/handler.ts',
  'lambdas/rollout/messages.ts',
  'lambdas/rollout/state.ts',
  'lambdas/rollout/steps.ts',
  'lambdas/aws/dynamo.ts',
  // The edges of a request (issue 14): the intake's redelivery path and operator answers, SendCommand's probe URL.
  'lambdas/intake/handler.ts',
  'lambdas/intake/beacon-command.ts',
  'lambdas/send-command/handler.ts',
];

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

interface Position {
  line: number;
  column: number;
}

interface ReportMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  location: { start: Position; end: Position };
  status: Status;
  statusReason?: string;
  static?: boolean;
}

interface ReportFile {
  source: string;
  mutants: ReportMutant[];
}

interface JsonReport {
  files: Record<string, ReportFile>;
}

export interface Explanation {
  mutator: string;
  original: string;
  replacement: string;
  /** Text on the mutant's line (or the two after it), when file + mutator + original + replacement name more than one place. */
  near?: string;
  reason: string;
}

export type Explanations = Record<string, Explanation[]>;

export interface Counts {
  killed: number;
  survived: number;
  noCoverage: number;
  timeout: number;
  errors: number;
  total: number;
  /** Static mutants this run did not test (ignoreStatic, for time): not in the score, listed by count. */
  staticSkipped: number;
}

export interface Undetected {
  file: string;
  line: number;
  mutator: string;
  original: string;
  replacement: string;
  status: 'Survived' | 'NoCoverage';
  isStatic: boolean;
  reason: string | null;
}

/** Whitespace collapsed, long text shortened with a digest of the whole (so a key survives line moves). */
export function shortText(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= 100) return flat;
  return `${flat.slice(0, 80)}… #${createHash('sha256').update(flat).digest('hex').slice(0, 8)}`;
}

function sourceAt(source: string, start: Position, end: Position): string {
  const lines = source.split('\n');
  if (start.line === end.line) return lines[start.line - 1]!.slice(start.column - 1, end.column - 1);
  const parts = [lines[start.line - 1]!.slice(start.column - 1), ...lines.slice(start.line, end.line - 1), lines[end.line - 1]!.slice(0, end.column - 1)];
  return parts.join('\n');
}

export function countOf(mutants: ReportMutant[]): Counts {
  const counts: Counts = { killed: 0, survived: 0, noCoverage: 0, timeout: 0, errors: 0, total: 0, staticSkipped: 0 };
  for (const mutant of mutants) {
    if (mutant.status === 'Ignored' && /static/i.test(mutant.statusReason ?? '')) {
      counts.staticSkipped += 1;
      continue;
    }
    if (mutant.status === 'Killed') counts.killed += 1;
    else if (mutant.status === 'Survived') counts.survived += 1;
    else if (mutant.status === 'NoCoverage') counts.noCoverage += 1;
    else if (mutant.status === 'Timeout') counts.timeout += 1;
    else if (mutant.status === 'CompileError' || mutant.status === 'RuntimeError') counts.errors += 1;
    else continue;
    counts.total += 1;
  }
  return counts;
}

/** Stryker's mutation score: detected (killed or timed out) over valid mutants (errors do not count). */
export function scoreOf(counts: Counts): number {
  const valid = counts.killed + counts.timeout + counts.survived + counts.noCoverage;
  return valid === 0 ? 100 : (100 * (counts.killed + counts.timeout)) / valid;
}

function add(a: Counts, b: Counts): Counts {
  return {
    killed: a.killed + b.killed,
    survived: a.survived + b.survived,
    noCoverage: a.noCoverage + b.noCoverage,
    timeout: a.timeout + b.timeout,
    errors: a.errors + b.errors,
    total: a.total + b.total,
    staticSkipped: a.staticSkipped + b.staticSkipped,
  };
}

function explanationFor(explanations: Explanations, file: string, mutator: string, original: string, replacement: string, line: string): Explanation | null {
  return (
    (explanations[file] ?? []).find(
      (entry) => entry.mutator === mutator && shortText(entry.original) === original && shortText(entry.replacement) === replacement && (entry.near === undefined || line.includes(entry.near)),
    ) ?? null
  );
}

const explanationKey = (file: string, entry: Explanation) => `${file}\u0000${entry.mutator}\u0000${shortText(entry.original)}\u0000${shortText(entry.replacement)}\u0000${entry.near ?? ''}`;

export interface Analysis {
  /** Groups with no report yet: their files are not measured. */
  notRun?: Array<{ name: string; mutate: string[] }>;
  files: Array<{ file: string; counts: Counts; score: number }>;
  groups: Array<{ name: string; counts: Counts; score: number; gated: boolean }>;
  undetected: Undetected[];
  staleExplanations: Array<{ file: string } & Explanation>;
}

export function analyse(report: JsonReport, explanations: Explanations): Analysis {
  const names = Object.keys(report.files).sort();
  const files = names.map((file) => {
    const counts = countOf(report.files[file]!.mutants);
    return { file, counts, score: scoreOf(counts) };
  });
  const undetected: Undetected[] = [];
  const used = new Set<string>();
  for (const file of names) {
    const { source, mutants } = report.files[file]!;
    for (const mutant of [...mutants].sort((a, b) => a.location.start.line - b.location.start.line || a.location.start.column - b.location.start.column)) {
      if (mutant.status !== 'Survived' && mutant.status !== 'NoCoverage') continue;
      const original = shortText(sourceAt(source, mutant.location.start, mutant.location.end));
      const replacement = shortText(mutant.replacement ?? '');
      // `near` is looked for on the mutant's line and the two after it.
      const context = source.split('\n').slice(mutant.location.start.line - 1, mutant.location.start.line + 2).join('\n');
      const explanation = explanationFor(explanations, file, mutant.mutatorName, original, replacement, context);
      if (explanation) used.add(explanationKey(file, explanation));
      undetected.push({ file, line: mutant.location.start.line, mutator: mutant.mutatorName, original, replacement, status: mutant.status, isStatic: mutant.static === true, reason: explanation?.reason ?? null });
    }
  }
  const staleExplanations = Object.entries(explanations).flatMap(([file, entries]) =>
    names.includes(file) ? entries.filter((entry) => !used.has(explanationKey(file, entry))).map((entry) => ({ file, ...entry })) : [],
  );
  const empty: Counts = { killed: 0, survived: 0, noCoverage: 0, timeout: 0, errors: 0, total: 0, staticSkipped: 0 };
  const core = files.filter((entry) => entry.file.startsWith('lambdas/core/')).reduce((sum, entry) => add(sum, entry.counts), empty);
  const outcome = files.filter((entry) => OUTCOME_FILES.includes(entry.file)).reduce((sum, entry) => add(sum, entry.counts), empty);
  const all = files.reduce((sum, entry) => add(sum, entry.counts), empty);
  const groups = [
    { name: 'lambdas/core/**', counts: core, score: scoreOf(core), gated: true },
    { name: 'files that decide outcomes (together)', counts: outcome, score: scoreOf(outcome), gated: false },
    { name: 'everything mutated', counts: all, score: scoreOf(all), gated: false },
  ].filter((group) => group.counts.total > 0);
  return { files, groups, undetected, staleExplanations };
}

/** The gate: which groups and files are under the minimum, and how many undetected mutants have no reason. */
export function gateFailures(analysis: Analysis): string[] {
  const failures: string[] = [];
  for (const group of analysis.groups) if (group.gated && group.score < MINIMUM_SCORE) failures.push(`${group.name}: ${group.score.toFixed(1)} % < ${MINIMUM_SCORE} %`);
  for (const file of analysis.files) {
    if ((file.file.startsWith('lambdas/core/') || OUTCOME_FILES.includes(file.file)) && file.score < MINIMUM_SCORE) failures.push(`${file.file}: ${file.score.toFixed(1)} % < ${MINIMUM_SCORE} %`);
  }
  const unexplained = analysis.undetected.filter((mutant) => !mutant.reason).length;
  if (unexplained > 0) failures.push(`${unexplained} undetected mutant(s) without an explanation (UNEXPLAINED below)`);
  return failures;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/`/g, "'");

function row(name: string, counts: Counts, score: number): string {
  return `| ${name} | ${counts.killed} | ${counts.timeout} | ${counts.survived} | ${counts.noCoverage} | ${counts.errors} | ${counts.total} | ${score.toFixed(1)} % | ${counts.staticSkipped} |`;
}

export interface RunFacts {
  /** When the run ended (ISO). */
  at: string;
  seconds: number | null;
  incremental: boolean;
  /** Whether the core group ran its static mutants too. */
  withStatic?: boolean;
  machine: string;
  /** Each run's last time: when it ended, how long it took, whether it reused results (incremental). */
  groups?: Record<string, { at: string; seconds: number; incremental: boolean; reruns?: Rerun[] }>;
}

/** A targeted re-run applied to a group's report (`--mutate <file:lines>... --into <group>`). */
export interface Rerun {
  at: string;
  mutate: string[];
  /** Mutants of the group's report whose status the re-run replaced. */
  mutants: number;
  withStatic: boolean;
}

const sameMutant = (a: ReportMutant, b: ReportMutant) =>
  a.mutatorName === b.mutatorName &&
  a.replacement === b.replacement &&
  a.location.start.line === b.location.start.line &&
  a.location.start.column === b.location.start.column &&
  a.location.end.line === b.location.end.line &&
  a.location.end.column === b.location.end.column;

/**
 * Applies a targeted re-run to a group's report: every mutant the re-run tested replaces the same mutant
 * (file, mutator, location, replacement) in the group's report. A source that changed since the group's run
 * is refused: its mutants' locations would not mean the same code.
 */
export function applyRerun(group: JsonReport, rerun: JsonReport, wholeFiles: readonly string[] = []): number {
  let replaced = 0;
  for (const [file, data] of Object.entries(rerun.files)) {
    const target = group.files[file];
    if (!target) throw new Error(`the re-run mutated ${file}, which the group's report does not hold`);
    if (wholeFiles.includes(file)) {
      // Every mutant of the file re-ran (a change to it, or new tests): its results replace the file's.
      group.files[file] = data;
      replaced += data.mutants.length;
      continue;
    }
    if (target.source !== data.source) throw new Error(`${file} changed since the group's run: re-run the whole file (--mutate ${file} --into <group>)`);
    for (const mutant of data.mutants) {
      const index = target.mutants.findIndex((m) => sameMutant(m, mutant));
      if (index < 0) throw new Error(`the re-run's mutant ${mutant.mutatorName} at ${file}:${mutant.location.start.line} is not in the group's report`);
      target.mutants[index] = { ...mutant, id: target.mutants[index]!.id };
      replaced += 1;
    }
  }
  return replaced;
}

export function renderMarkdown(analysis: Analysis, run: RunFacts | null): string {
  const failures = gateFailures(analysis);
  const lines: string[] = [];
  lines.push('# Mutation testing of the decision code (issue 14)', '');
  lines.push('Written by `npm run mutation` (scripts/mutation.ts) from StrykerJS\'s JSON reports: StrykerJS 10, vitest runner,');
  lines.push('per-test coverage, every mutator on, the tests of `vitest.mutation.config.ts`. A mutant is *detected* when a test');
  lines.push('fails (killed) or it runs into the time limit (timeout); the score is detected over killed + timeout + survived +');
  lines.push('no coverage. Every mutant no test detects is listed under its file with the reason it may stay (from');
  lines.push('bench/mutation-explanations.json) or UNEXPLAINED.', '');
  lines.push('Five runs. The files that decide outcomes run every mutant, static ones included. `lambdas/core/**` (in three');
  lines.push('runs: the rules in lambdas/core/*.ts, chatops, fnms) runs without its static mutants (module-level constants:');
  lines.push('tables, patterns, limits), because each of them reloads and reruns every related test file (~50 s here; 1,301');
  lines.push('static mutants of 6,820 projected ~6 h on 2 cores). They are not in the score: the last column counts them per');
  lines.push('file, nothing is dropped silently. lambdas/core/beacon-facts.ts is nothing but module-level constants (what is');
  lines.push('written to a beacon), so it runs on its own with every static mutant (the core-facts run).');
  lines.push('A survivor marked (static) in a lambdas/core run is a static mutant that a');
  lines.push('test also reaches, run without a reload: when it sits in a module-level constant it was never active, so it may');
  lines.push('be untested rather than surviving; it is counted as survived all the same. `npm run mutation -- --with-static`');
  lines.push('runs every static mutant with a reload. The figures below come');
  lines.push('from full runs (`--full`): an incremental run may keep a survivor as "survived" although a new test kills it.', '');
  if (run?.groups) {
    lines.push('Runs (each group\'s last run, ' + run.machine + '):', '');
    for (const [name, group] of Object.entries(run.groups)) {
      lines.push(`- ${name}: ended ${group.at}, ${Math.round(group.seconds / 60)} min (${group.incremental ? 'incremental' : 'full'})`);
      for (const rerun of group.reruns ?? []) {
        lines.push(`  - then ${rerun.mutants} of its mutants re-run after new tests (${rerun.at}${rerun.withStatic ? ', static ones with a reload' : ''}): ${rerun.mutate.map((m) => `\`${m}\``).join(', ')}`);
      }
    }
    lines.push('');
  } else if (run) {
    lines.push(`Run: ${run.at}, ${run.seconds === null ? 'time not measured' : `${Math.round(run.seconds / 60)} min`} (${run.incremental ? 'incremental: results of unchanged mutants and tests reused from reports/stryker-incremental-*.json' : 'full run'}${run.withStatic ? ', static mutants of lambdas/core/** included' : ''}), ${run.machine}.`, '');
  }
  lines.push(`Gate: >= ${MINIMUM_SCORE} % on lambdas/core/** and on each of its files and each file that decides outcomes, every undetected mutant explained.`);
  lines.push(failures.length === 0 && (analysis.notRun ?? []).length === 0 ? 'Gate: **met**.' : `Gate: **not met**:`);
  for (const failure of failures) lines.push(`- ${failure}`);
  for (const group of analysis.notRun ?? []) lines.push(`- **not measured**: the ${group.name} run (${group.mutate.join(' ')}) has no report yet`);
  lines.push('', '## Totals', '', '| group | killed | timeout | survived | no coverage | errors | total | score | static, not run |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const group of analysis.groups) lines.push(row(group.name, group.counts, group.score));
  lines.push('', '## Per file', '', '| file | killed | timeout | survived | no coverage | errors | total | score | static, not run |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const file of analysis.files) lines.push(row(`${OUTCOME_FILES.includes(file.file) ? '**' : ''}${file.file}${OUTCOME_FILES.includes(file.file) ? '**' : ''}`, file.counts, file.score));
  lines.push('', 'Bold: a file that decides outcomes.', '', '## Undetected mutants and why they stay', '');
  if (analysis.undetected.length === 0) lines.push('None.');
  let current = '';
  for (const mutant of analysis.undetected) {
    if (mutant.file !== current) {
      current = mutant.file;
      lines.push('', `### ${current}`, '');
    }
    const what = `${mutant.file}:${mutant.line} ${mutant.mutator}${mutant.status === 'NoCoverage' ? ' (no coverage)' : ''}${mutant.isStatic ? ' (static)' : ''}: \`${cell(mutant.original)}\` -> \`${cell(mutant.replacement)}\``;
    lines.push(`- ${what} — ${mutant.reason ?? '**UNEXPLAINED**'}`);
  }
  if (analysis.staleExplanations.length > 0) {
    lines.push('', '## Explanations no mutant uses any more', '');
    for (const entry of analysis.staleExplanations) lines.push(`- ${entry.file} ${entry.mutator}: \`${cell(shortText(entry.original))}\` -> \`${cell(shortText(entry.replacement))}\``);
  }
  return `${lines.join('\n')}\n`;
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `Node ${process.version}, ${availableParallelism()} cores (${cpu})`;
}

/** The runs: the outcome files (every mutant), then lambdas/core/** in parts (static mutants skipped unless --with-static, except the constants of beacon-facts.ts). */
export const GROUPS = [
  { name: 'outcome', mutate: OUTCOME_FILES, ignoreStatic: false },
  // lambdas/core/** in three runs, decision rules first, so each part's figures land as soon as it is done.
  { name: 'core', mutate: ['lambdas/core/*.ts', '!lambdas/core/beacon-facts.ts'], ignoreStatic: true },
  // beacon-facts.ts holds nothing but module-level constants: a run without static mutants never activates one
  // (the module keeps the value it loaded), so it runs alone with its static mutants, each with a reload.
  { name: 'core-facts', mutate: ['lambdas/core/beacon-facts.ts'], ignoreStatic: false },
  { name: 'core-chatops', mutate: ['lambdas/core/chatops/**/*.ts'], ignoreStatic: true },
  { name: 'core-fnms', mutate: ['lambdas/core/fnms/**/*.ts', '!lambdas/core/fnms/**/*.d.ts'], ignoreStatic: true },
] as const;

function runStryker(mutate: readonly string[], ignoreStatic: boolean, incrementalFile: string, jsonReport: string, full: boolean): void {
  const args = ['stryker', 'run', 'stryker.config.mjs', ...(full ? ['--force'] : [])];
  const env = {
    ...process.env,
    MUTATION_MUTATE: mutate.join(','),
    MUTATION_IGNORE_STATIC: ignoreStatic ? '1' : '0',
    MUTATION_INCREMENTAL_FILE: incrementalFile,
    MUTATION_JSON_REPORT: jsonReport,
  };
  console.error(`mutation: npx ${args.join(' ')} (mutate ${mutate.join(' ')}${ignoreStatic ? ', static mutants skipped' : ''})`);
  const result = spawnSync('npx', args, { cwd: ROOT, stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`mutation: stryker exited with ${result.status ?? result.signal}`);
    process.exit(1);
  }
}

/** A mutate glob as a test: `*` within a folder, `**` across folders; a leading `!` excludes. */
export function globMatcher(globs: readonly string[]): (file: string) => boolean {
  const toRegex = (glob: string) =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '\u0000').replace(/\*/g, '[^/]*').replace(/\u0000/g, '(?:.*/)?')}$`);
  const include = globs.filter((glob) => !glob.startsWith('!')).map(toRegex);
  const exclude = globs.filter((glob) => glob.startsWith('!')).map((glob) => toRegex(glob.slice(1)));
  return (file) => include.some((re) => re.test(file)) && !exclude.some((re) => re.test(file));
}

/**
 * Joins the groups' reports, each limited to the files its group mutates: a report may carry files an
 * earlier (interrupted, wider) run left in its incremental file, which are not this group's results.
 */
function mergeReports(reports: Array<{ path: string; mutate: readonly string[] }>): JsonReport {
  const files: Record<string, ReportFile> = {};
  for (const { path, mutate } of reports) {
    const mine = globMatcher(mutate);
    for (const [file, data] of Object.entries(readJson<JsonReport>(path).files)) if (mine(file)) files[file] = data;
  }
  return { files };
}

function main(argv: string[]): void {
  const check = argv.includes('--check');
  const reportOnly = argv.includes('--report-only');
  const full = argv.includes('--full');
  const withStatic = argv.includes('--with-static');
  const mutateAt = argv.indexOf('--mutate');
  const afterMutate = mutateAt >= 0 ? argv.slice(mutateAt + 1) : [];
  const mutateEnd = afterMutate.findIndex((arg) => arg.startsWith('--'));
  const mutate = mutateEnd < 0 ? afterMutate : afterMutate.slice(0, mutateEnd);
  const applying = argv.includes('--into');
  const partial = mutate.length > 0;
  mkdirSync(dirname(JSON_REPORT), { recursive: true });
  const groupReports = GROUPS.map((group) => join(ROOT, 'reports', 'mutation', `${group.name}.json`));

  let run: RunFacts | null = existsSync(RUN_LOG) ? readJson<RunFacts>(RUN_LOG) : null;
  if (!reportOnly) {
    const started = Date.now();
    if (partial) {
      // A partial run keeps its own incremental file and report: the full run's stay as they are.
      const slug = createHash('sha256').update(mutate.join('\n')).digest('hex').slice(0, 10);
      const ignoreStatic = !withStatic && mutate.every((file) => file.startsWith('lambdas/core/'));
      runStryker(mutate, ignoreStatic, `reports/partial/${slug}-incremental.json`, 'reports/mutation/partial.json', full);
      const intoAt = argv.indexOf('--into');
      const into = intoAt >= 0 ? GROUPS.findIndex((group) => group.name === argv[intoAt + 1]) : -1;
      if (intoAt >= 0 && into < 0) throw new Error(`--into names no group (${GROUPS.map((group) => group.name).join(', ')})`);
      if (into >= 0) {
        // The re-run's results replace the same mutants in the group's report; bench/mutation.md says so.
        const report = readJson<JsonReport>(groupReports[into]!);
        const mutants = applyRerun(report, readJson<JsonReport>(PARTIAL_JSON_REPORT), mutate.filter((entry) => !entry.includes(':')));
        writeFileSync(groupReports[into]!, JSON.stringify(report));
        const name = GROUPS[into]!.name;
        const facts = run?.groups?.[name];
        if (!run || !facts) throw new Error(`the ${name} group has no recorded run to apply a re-run to`);
        facts.reruns = [...(facts.reruns ?? []), { at: new Date().toISOString(), mutate, mutants, withStatic: !ignoreStatic }];
        writeFileSync(RUN_LOG, `${JSON.stringify(run, null, 2)}\n`);
        console.error(`mutation: ${mutants} mutants of the ${name} group re-run and applied to its report`);
      }
    } else {
      const onlyAt = argv.indexOf('--only');
      const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
      const groups: NonNullable<RunFacts['groups']> = { ...(run?.groups ?? {}) };
      GROUPS.forEach((group, index) => {
        if (only !== undefined && group.name !== only) return;
        const groupStarted = Date.now();
        runStryker(group.mutate, group.ignoreStatic && !withStatic, `reports/stryker-incremental-${group.name}.json`, groupReports[index]!, full);
        groups[group.name] = { at: new Date().toISOString(), seconds: Math.round((Date.now() - groupStarted) / 1000), incremental: !full };
      });
      run = { at: new Date().toISOString(), seconds: (Date.now() - started) / 1000, incremental: !full, withStatic, machine: machine(), groups };
      writeFileSync(RUN_LOG, `${JSON.stringify(run, null, 2)}\n`);
    }
  }
  const wanted = partial && !applying ? [{ path: PARTIAL_JSON_REPORT, mutate, name: 'partial' }] : GROUPS.map((group, index) => ({ path: groupReports[index]!, mutate: group.mutate, name: group.name }));
  const reports = wanted.filter((report) => existsSync(report.path));
  const notRun = wanted.filter((report) => !existsSync(report.path));
  if (notRun.length > 0) console.error(`mutation: no report for ${notRun.map((report) => report.name).join(', ')}; run \`npm run mutation\``);
  if (reports.length === 0 || (check && notRun.length > 0)) process.exit(1);
  const explanations = existsSync(EXPLANATIONS) ? readJson<Explanations>(EXPLANATIONS) : {};
  const analysis = analyse(mergeReports(reports), explanations);
  analysis.notRun = notRun.map((report) => ({ name: report.name, mutate: [...report.mutate] }));
  const out = partial && !applying ? PARTIAL_REPORT : REPORT;
  writeFileSync(out, renderMarkdown(analysis, partial && !applying ? null : run));
  for (const group of analysis.groups) console.log(`${group.name}: ${group.score.toFixed(1)} % (${group.counts.killed + group.counts.timeout}/${group.counts.total - group.counts.errors}; ${group.counts.staticSkipped} static not run)`);
  for (const file of analysis.files) console.log(`  ${file.score.toFixed(1).padStart(5)} %  ${file.file}  (${file.counts.survived} survived, ${file.counts.noCoverage} no coverage, ${file.counts.staticSkipped} static not run)`);
  const failures = [...gateFailures(analysis), ...(analysis.notRun ?? []).map((group) => `${group.name}: not measured`)];
  console.log(`mutation: wrote ${out}; gate ${failures.length === 0 ? 'met' : `not met (${failures.length} finding(s))`}`);
  if (check && failures.length > 0) {
    for (const failure of failures) console.error(`mutation: ${failure}`);
    process.exit(1);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
