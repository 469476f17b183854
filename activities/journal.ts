import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';

/** Journal writes of the symbol loop: one row per tick, and entry failures. */
export function journalActivities({ journal, log, metrics }: ActivityDeps): Pick<TradingActivities, 'journalDecision' | 'journalEntryFailure'> {
  return {
    async journalDecision({ workflowId, symbol, seq, signal, decision, reason }) {
      await journal.recordSignal({
        workflowId,
        symbol,
        seq,
        candleTime: signal.candleTime,
        signal: signal.signal,
        confidence: signal.confidence,
        probHold: signal.probabilities.HOLD,
        probBuy: signal.probabilities.BUY,
        probSell: signal.probabilities.SELL,
        model: signal.model,
        price: signal.price,
        decision,
        reason,
        at: new Date(),
      });
      metrics.decisions.inc({ decision });
      if (decision === 'WOULD_TRADE') log.info({ symbol, signal: signal.signal }, `Would trade ${symbol} ${signal.signal} conf=${signal.confidence.toFixed(2)} (execution disabled)`);
    },

    async journalEntryFailure({ positionId, symbol, side, reason }) {
      log.warn({ positionId, symbol, side }, `Entry failed ${symbol} ${side}: ${reason}`);
      metrics.positionsClosed.inc({ reason: 'ENTRY_FAILED' });
    },
  };
}
