import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentParameters, renderDesiredState } from '../lambdas/core/desired-state.js';
import { parseRequestJson } from '../lambdas/core/request.js';
import { type Figure, median } from './stats.js';

const TARGET_PER_SECOND = 20_000;

/** Requests validated and rendered (desired state + base64 parameter) per second on one core. */
export function measureCoreThroughput(root: string): Figure[] {
  const texts = ['https-one-proxy', 'http', 'split-endpoints', 'gmsa', 'crl-disabled'].map((name) =>
    readFileSync(join(root, 'examples', `${name}.json`), 'utf8'),
  );
  const once = (i: number) => documentParameters(renderDesiredState(parseRequestJson(texts[i % texts.length]!)));
  for (let i = 0; i < 5_000; i += 1) once(i); // warm-up: JIT
  const rates: number[] = [];
  for (let round = 0; round < 7; round += 1) {
    const n = 20_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) once(i);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push(n / seconds);
  }
  const rate = median(rates);
  return [{ name: 'validate + render + encode (median of 7 x 20k)', value: `${Math.round(rate).toLocaleString('en')}/s`, target: `>= ${TARGET_PER_SECOND.toLocaleString('en')}/s`, met: rate >= TARGET_PER_SECOND }];
}
