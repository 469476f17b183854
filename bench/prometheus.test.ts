import { describe, expect, it } from 'vitest';
import { histogramQuantile, increaseBy, parseMetrics, total } from './prometheus.js';

const page = (n: number, fast: number, slow: number) => `# HELP persistence_requests requests
# TYPE persistence_requests counter
persistence_requests{operation="UpdateWorkflowExecution",service_name="history"} ${n}
persistence_requests{operation="GetNamespace",service_name="frontend"} 7
persistence_requests{operation="GetNamespace",service_name="history"} ${n / 2}
latency_bucket{le="10"} ${fast}
latency_bucket{le="100"} ${fast + slow}
latency_bucket{le="+Inf"} ${fast + slow}
not a sample line
`;

describe('reading Prometheus pages in benchmarks', () => {
  it('sums a metric over matching labels and tells increases by label', () => {
    const before = parseMetrics(page(10, 0, 0));
    const after = parseMetrics(page(30, 0, 0));
    expect(before).toHaveLength(6);
    expect(total(after, 'persistence_requests')).toBe(30 + 7 + 15);
    expect(total(after, 'persistence_requests', { service_name: 'frontend' })).toBe(7);
    expect(increaseBy(before, after, 'persistence_requests', 'operation')).toEqual([
      ['UpdateWorkflowExecution', 20],
      ['GetNamespace', 10],
    ]);
  });

  it('takes a quantile of the observations between two scrapes, as the bucket bound it falls in', () => {
    const before = parseMetrics(page(0, 50, 0));
    expect(histogramQuantile(before, parseMetrics(page(0, 149, 1)), 'latency', 0.99)).toBe(10);
    expect(histogramQuantile(before, parseMetrics(page(0, 140, 10)), 'latency', 0.99)).toBe(100);
    expect(histogramQuantile(before, before, 'latency', 0.5)).toBeNaN();
  });
});
