/** Helpers shared by the bench's parts. */

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}

/** A list of positive integers (`1,5,25`), or the fallback. */
export function positiveInts(value: string | undefined, fallback: readonly number[]): number[] {
  const parsed = (value ?? '').split(',').map(v => v.trim()).filter(v => v !== '').map(Number);
  return parsed.length > 0 && parsed.every(n => Number.isInteger(n) && n > 0) ? parsed : [...fallback];
}

/** A table with the first column left-aligned and the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
  return [line(header), widths.map(w => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
