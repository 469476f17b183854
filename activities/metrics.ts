import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the worker, served as text on /metrics. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'qt_' });
  const tickLateness = new Histogram({
    name: 'qt_tick_lateness_seconds',
    help: 'Delay between when a symbol tick was due and when its market-data activity started',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  /** Raw lateness samples for benchmarks in the same process (bounded). */
  const latenessSamples: number[] = [];
  return {
    registry,
    latenessSamples,
    recordTickLateness(seconds: number) {
      tickLateness.observe(seconds);
      if (latenessSamples.length < 1_000_000) latenessSamples.push(seconds);
    },
    signals: new Counter({ name: 'qt_signals_total', help: 'Signals evaluated, by class', labelNames: ['signal'], registers: [registry] }),
    decisions: new Counter({ name: 'qt_decisions_total', help: 'Loop decisions, by outcome', labelNames: ['decision'], registers: [registry] }),
    orders: new Counter({ name: 'qt_orders_total', help: 'Orders executed, by purpose', labelNames: ['purpose'], registers: [registry] }),
    positionsClosed: new Counter({ name: 'qt_positions_closed_total', help: 'Positions closed, by exit reason', labelNames: ['reason'], registers: [registry] }),
    positionAlerts: new Counter({
      name: 'qt_position_alerts_total',
      help: 'Positions needing an operator: stop not placed, flat without a closing fill, exits refused, duplicate or unexplained exposure',
      labelNames: ['kind'],
      registers: [registry],
    }),
    evaluationSeconds: new Histogram({
      name: 'qt_signal_evaluation_seconds',
      help: 'Market data + features + inference per symbol tick',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
