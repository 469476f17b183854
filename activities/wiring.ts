import type { Logger } from 'pino';
import type { RiskLimits } from '../core/risk.js';
import type { FuturesExchange } from '../exchange/types.js';
import type { TradingActivities } from './contracts.js';
import type { MarketEventsPort, TemporalPort } from './deps.js';
import { createActivities } from './index.js';
import type { JournalPort } from './journal-port.js';
import { CandleCache, type CandleSource } from './market-data.js';
import { createMetrics, type Metrics } from './metrics.js';
import { SignalLog } from './signal-log.js';
import type { SignalSource } from './signal-source.js';
import { WorkerStatus } from './worker-status.js';

export interface ActivityWiring {
  exchange: FuturesExchange;
  journal: JournalPort;
  signals: SignalSource;
  /** Closed candles kept per symbol (what the signal source needs). */
  candleHistory: number;
  /** Where candles come from (the worker's stream store); default: REST polling with `candleHistory`. */
  candles?: CandleSource;
  risk: () => RiskLimits;
  log: Logger;
  /** Window of the `AI signals: ...` summary line (the check interval). */
  summaryWindowMs: number;
  /** How long one account position read serves every position workflow of the worker (default 1 s). */
  accountReadMaxAgeMs?: number;
  temporal: TemporalPort;
  /** Event-driven mode: the worker's loop waker and exit watcher. */
  marketEvents?: MarketEventsPort;
}

/** The activities with their in-process helpers (candle cache, signal summary, metrics, status) built once. */
export function wireActivities(w: ActivityWiring): { activities: TradingActivities; metrics: Metrics; status: WorkerStatus } {
  const metrics = createMetrics();
  const status = new WorkerStatus();
  const activities = createActivities({
    exchange: w.exchange,
    journal: w.journal,
    candles: w.candles ?? new CandleCache(w.exchange, w.candleHistory),
    signals: w.signals,
    risk: w.risk,
    log: w.log,
    signalLog: new SignalLog(w.log, w.summaryWindowMs),
    ...(w.accountReadMaxAgeMs !== undefined ? { accountReadMaxAgeMs: w.accountReadMaxAgeMs } : {}),
    metrics,
    temporal: w.temporal,
    status,
    ...(w.marketEvents ? { marketEvents: w.marketEvents } : {}),
  });
  return { activities, metrics, status };
}
