import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CellResult, chaosCells, chaosReport, referenceConfigured, runChaosCell } from '../../local/chaos.js';

/**
 * Every cell of the crash-point matrix (`npm run chaos`) as a test: one request, one beacon, one injected
 * failure, on its own strict twin. Cells run concurrently; time is scaled.
 */
const cells = chaosCells();
let reference: string;
const workDir = mkdtempSync(join(tmpdir(), 'beacon-proxy-chaos-test-'));
const results: CellResult[] = [];

beforeAll(async () => {
  reference = await referenceConfigured(workDir);
}, 120_000);

afterAll(() => {
  if (results.length === cells.length) process.stderr.write(`${chaosReport(results)}\n`);
  rmSync(workDir, { recursive: true, force: true });
});

describe.concurrent('crash-point matrix: the beacon ends as before or fully configured, never with configure and rollback overlapping; lock, status and notification always final', () => {
  it('has at least 40 cells', () => {
    expect(cells.length).toBeGreaterThanOrEqual(40);
  });

  for (const cell of cells) {
    it(`${cell.id}: ${cell.description}`, async () => {
      const result = await runChaosCell(cell, reference, { workDir });
      results.push(result);
      expect(result.failures).toEqual([]);
      expect(result.beacon).not.toBe('HALF-CONFIGURED');
    }, 300_000);
  }
});
