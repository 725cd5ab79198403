/**
 * `npm run mutation -- --mutate <file:lines> --into <group>` (scripts/mutation.ts): a targeted re-run after new
 * tests replaces exactly the mutants it tested in the group's report, and never applies to code that changed
 * since the group's run (the locations would name other code).
 */
import { describe, expect, it } from 'vitest';
import { applyRerun } from '../../scripts/mutation.js';

const at = (line: number, column: number, endColumn: number) => ({ start: { line, column }, end: { line, column: endColumn } });
const mutant = (id: string, status: string, line: number, replacement = 'true') => ({ id, mutatorName: 'ConditionalExpression', replacement, location: at(line, 5, 20), status });
const group = () => ({
  files: {
    'lambdas/core/x.ts': { source: 'const a = 1;\nif (a > 0) run();\n', mutants: [mutant('1', 'Survived', 2), mutant('2', 'Killed', 2, 'false'), mutant('3', 'Survived', 1)] },
  },
});

describe('a targeted mutation re-run applied to a group report', () => {
  it('replaces the status of exactly the mutants it re-ran, keeping their ids', () => {
    const report = group();
    const rerun = { files: { 'lambdas/core/x.ts': { source: report.files['lambdas/core/x.ts'].source, mutants: [mutant('77', 'Killed', 2)] } } };
    expect(applyRerun(report as never, rerun as never)).toBe(1);
    expect(report.files['lambdas/core/x.ts'].mutants.map((m) => [m.id, m.status])).toEqual([
      ['1', 'Killed'],
      ['2', 'Killed'],
      ['3', 'Survived'],
    ]);
  });

  it('refuses a re-run of a file whose source changed since the group ran', () => {
    const rerun = { files: { 'lambdas/core/x.ts': { source: 'const a = 2;\n', mutants: [mutant('9', 'Killed', 2)] } } };
    expect(() => applyRerun(group() as never, rerun as never)).toThrow(/changed since the group's run/);
  });

  it('a whole file re-run (after a change to it) replaces the file\'s results, new mutants included', () => {
    const report = group();
    const changed = { source: 'const a = 2;\nif (a > 1 && a < 9) run();\n', mutants: [mutant('1', 'Killed', 2), mutant('2', 'Killed', 2, 'false'), mutant('3', 'Survived', 1), mutant('4', 'Killed', 2, 'a >= 9')] };
    expect(applyRerun(report as never, { files: { 'lambdas/core/x.ts': changed } } as never, ['lambdas/core/x.ts'])).toBe(4);
    expect(report.files['lambdas/core/x.ts']).toEqual(changed);
  });

  it('refuses a mutant or a file the group never had', () => {
    const source = group().files['lambdas/core/x.ts'].source;
    expect(() => applyRerun(group() as never, { files: { 'lambdas/core/x.ts': { source, mutants: [mutant('9', 'Killed', 2, 'other')] } } } as never)).toThrow(/is not in the group's report/);
    expect(() => applyRerun(group() as never, { files: { 'lambdas/core/y.ts': { source, mutants: [] } } } as never)).toThrow(/does not hold/);
  });
});
