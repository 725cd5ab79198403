/** JSON with object keys sorted at every level: the same data always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  // Written directly rather than by sorting a copy and calling JSON.stringify: this runs on every request.
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i += 1) {
      if (i > 0) out += ',';
      const entry: unknown = value[i];
      out += entry === undefined || typeof entry === 'function' ? 'null' : canonicalJson(entry);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const entry = record[key];
    if (entry === undefined || typeof entry === 'function') continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(entry)}`;
    first = false;
  }
  return `${out}}`;
}
