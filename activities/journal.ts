import type { SignalRecord } from '../journal/types.js';
import type { DecisionRecord, TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';

const toSignalRecord = (r: DecisionRecord): SignalRecord => ({
  workflowId: r.workflowId,
  symbol: r.symbol,
  seq: r.seq,
  instanceId: r.instanceId ?? '',
  runId: r.runId ?? '',
  candleTime: r.signal.candleTime,
  signal: r.signal.signal,
  confidence: r.signal.confidence,
  probHold: r.signal.probabilities.HOLD,
  probBuy: r.signal.probabilities.BUY,
  probSell: r.signal.probabilities.SELL,
  model: r.signal.model,
  price: r.signal.price,
  decision: r.decision,
  reason: r.reason,
  at: new Date(r.at ?? Date.now()),
  taskEvent: r.taskEvent ?? null,
});

/** Journal writes of the symbol loop: one row per tick, and entry failures. */
export function journalActivities({ journal, log, metrics }: ActivityDeps): Pick<TradingActivities, 'journalDecision' | 'journalDecisions' | 'journalEntryFailure'> {
  const afterWrite = (r: DecisionRecord) => {
    metrics.decisions.inc({ decision: r.decision });
    if (r.decision === 'WOULD_TRADE') log.info({ symbol: r.symbol, signal: r.signal.signal }, `Would trade ${r.symbol} ${r.signal.signal} conf=${r.signal.confidence.toFixed(2)} (execution disabled)`);
  };
  return {
    /** One decision per call: what loops recorded before decisions were buffered (their histories replay it). */
    async journalDecision(rec) {
      await journal.recordSignal(toSignalRecord(rec));
      afterWrite(rec);
    },

    async journalDecisions({ records, dropped }) {
      const result = await journal.recordSignals(records.map(toSignalRecord));
      const symbol = records[0]?.symbol ?? null;
      if (dropped > 0) {
        await journal.recordRiskEvent({ kind: 'DECISIONS_DROPPED', symbol, detail: { count: dropped, reason: 'journal unreachable longer than the loop buffers' } });
        log.error({ symbol, dropped }, `${dropped} decision(s) of ${symbol} were dropped while the journal was unreachable`);
      }
      if (result.superseded > 0) log.warn({ symbol, superseded: result.superseded }, `${result.superseded} decision(s) of ${symbol} written by a workflow task that did not complete were replaced by its re-run`);
      if (result.collisions > 0) log.error({ symbol, collisions: result.collisions }, `journal key collision on ${symbol}: ${result.collisions} decision(s) kept as SIGNAL_KEY_COLLISION risk events`);
      if (records.length > 1) log.info({ symbol, written: result.inserted }, `Journal caught up: ${records.length} decisions of ${symbol} written`);
      records.forEach(afterWrite);
    },

    async journalEntryFailure({ positionId, symbol, side, reason }) {
      log.warn({ positionId, symbol, side }, `Entry failed ${symbol} ${side}: ${reason}`);
      metrics.positionsClosed.inc({ reason: 'ENTRY_FAILED' });
    },
  };
}
