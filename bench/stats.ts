/** Small statistics helpers for the benchmarks: medians over repeated runs, never single samples. */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return Math.abs(bytes) >= 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${Math.round(bytes)} B`;
}

export interface Figure {
  name: string;
  value: string;
  target?: string;
  met?: boolean;
  /** Context printed after the figure (what it includes, a breakdown). */
  note?: string;
  /** Further named columns (e.g. both variants of a measurement), printed between the verdict and the note. */
  columns?: Record<string, string>;
}

export function printFigures(title: string, figures: Figure[]): void {
  console.log(`\n## ${title}`);
  for (const figure of figures) {
    const verdict = figure.met === undefined ? '' : figure.met ? '  [target met]' : '  [TARGET MISSED]';
    const columns = Object.entries(figure.columns ?? {})
      .map(([name, value]) => `  ${name} ${value}`)
      .join('');
    console.log(`  ${figure.name.padEnd(44)} ${figure.value.padStart(14)}${figure.target ? `  (target ${figure.target})` : ''}${verdict}${columns}${figure.note ? `  ${figure.note}` : ''}`);
  }
}

/** The figures as a Markdown table, for bench/results.md. */
export function markdownTable(figures: Figure[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const extra = [...new Set(figures.flatMap((f) => Object.keys(f.columns ?? {})))];
  const rows = figures.map(
    (f) =>
      `| ${cell(f.name)} | ${cell(f.value)} | ${cell(f.target ?? '')} | ${f.met === undefined ? '' : f.met ? 'met' : '**missed**'} |${extra.map((name) => ` ${cell(f.columns?.[name] ?? '')} |`).join('')} ${cell(f.note ?? '')} |`,
  );
  return [`| Figure | Value | Target | |${extra.map((name) => ` ${name} |`).join('')} Note |`, `|---|---:|---|---|${extra.map(() => '---:|').join('')}---|`, ...rows].join('\n');
}
