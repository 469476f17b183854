import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';
import { toActivityError } from './idempotent-orders.js';
import type { ClosedCandles } from './market-data.js';
import { holdSignal } from './signal-source.js';

/** Market data, features and inference for one tick of a symbol loop. */
export function signalActivities(deps: ActivityDeps): Pick<TradingActivities, 'evaluateSignal'> {
  const { metrics } = deps;
  return {
    async evaluateSignal({ symbol, dueAt }) {
      const started = performance.now();
      if (dueAt !== undefined) metrics.recordTickLateness(Math.max(0, Date.now() - dueAt) / 1000);
      deps.status.tick(symbol);
      deps.marketEvents?.loopEvaluated(symbol);
      const { candles, problem, features }: ClosedCandles =
        deps.signals.needsCandles === false
          ? { candles: [], problem: null }
          : await deps.candles.closedCandles(symbol).catch((err) => {
              throw toActivityError(err);
            });
      const signal = problem ? holdSignal(symbol, candles, problem) : await deps.signals.score(symbol, candles, features);
      deps.signalLog.add(signal);
      metrics.signals.inc({ signal: signal.signal });
      metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
      return signal;
    },
  };
}
