/** Reading Prometheus text exposition (the Temporal dev server's and the worker core's /metrics) in benchmarks. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a /metrics page (comments and malformed lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+([-+]?(?:\d|\.\d|Inf|NaN)\S*)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: m[3]!.endsWith('Inf') ? (m[3]!.startsWith('-') ? -Infinity : Infinity) : Number(m[3]) });
  }
  return out;
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

/** Sum of a metric's samples whose labels match `where`. */
export function total(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** A counter's increase between two scrapes, per value of one label, largest first. */
export function increaseBy(before: readonly Sample[], after: readonly Sample[], name: string, label: string): [string, number][] {
  const sum = (samples: readonly Sample[]) => {
    const m = new Map<string, number>();
    for (const s of samples) if (s.name === name) m.set(s.labels[label] ?? '', (m.get(s.labels[label] ?? '') ?? 0) + s.value);
    return m;
  };
  const b = sum(before);
  return [...sum(after)].map(([k, v]) => [k, v - (b.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
}

/**
 * The q-quantile of a histogram's observations between two scrapes (upper bound of the bucket it falls in, so
 * coarse), from its cumulative `<name>_bucket{le=…}` samples summed over all other labels.
 */
export function histogramQuantile(before: readonly Sample[], after: readonly Sample[], name: string, q: number): number {
  const buckets = (samples: readonly Sample[]) => {
    const m = new Map<number, number>();
    for (const s of samples) {
      if (s.name !== `${name}_bucket`) continue;
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      m.set(le, (m.get(le) ?? 0) + s.value);
    }
    return m;
  };
  const b = buckets(before);
  const delta = [...buckets(after)].map(([le, n]) => [le, n - (b.get(le) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const count = delta.at(-1)?.[1] ?? 0;
  if (count === 0) return Number.NaN;
  return delta.find(([, n]) => n >= q * count)![0];
}
