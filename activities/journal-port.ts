import type { Journal } from '../journal/index.js';

/** The part of the journal the activities use (tests may hand in anything with this shape). */
export type JournalPort = Pick<
  Journal,
  | 'recordSignal'
  | 'recordSignals'
  | 'getPosition'
  | 'upsertOrder'
  | 'recordFills'
  | 'openPosition'
  | 'recordEntry'
  | 'closePosition'
  | 'recordRiskEvent'
  | 'recordRiskEventOnce'
  | 'getGlobalKill'
  | 'setGlobalKill'
  | 'realizedPnlSince'
  | 'openPositions'
  | 'positions'
  | 'ordersForPosition'
>;
