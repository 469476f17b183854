import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { OrphanPolicy } from '../core/reconcile.js';
import type { RiskLimits } from '../core/risk.js';
import type { FuturesExchange } from '../exchange/types.js';
import type { ExitWatchRequest } from './contracts.js';
import type { JournalPort } from './journal-port.js';
import type { CandleSource } from './market-data.js';
import type { Metrics } from './metrics.js';
import type { SignalLog } from './signal-log.js';
import type { SignalSource } from './signal-source.js';
import type { WorkerStatus } from './worker-status.js';

/** Temporal as the book-wide activities see it: the risk book, visibility of running workflows. */
export interface TemporalPort {
  client: Client;
  /** The task queue of this deployment: its book-wide workflows and the workflows reconciliation looks at. */
  taskQueue: string;
  /** What reconciliation does with exposure nobody owns (QT_ORPHAN_POLICY); a loop follows it too. Default adopt. */
  orphanPolicy?: OrphanPolicy;
}

/** The worker's market-event side (event-driven mode): what loops and positions tell it. */
export interface MarketEventsPort {
  /** A loop of `symbol` starts an evaluation now: a wake asked for before it is answered. */
  loopEvaluated(symbol: string): void;
  /** Watch (or refresh the watch of) an open position's exit levels on the mark stream. */
  watchExits(req: ExitWatchRequest): { streaming: boolean };
  unwatchExits(positionId: string): void;
}

/** The adapters and in-process helpers every activity group is built from. */
export interface ActivityDeps {
  exchange: FuturesExchange;
  journal: JournalPort;
  candles: CandleSource;
  signals: SignalSource;
  risk: () => RiskLimits;
  log: Logger;
  signalLog: SignalLog;
  metrics: Metrics;
  /** How long one account position read serves every position workflow of the worker (default 1 s). */
  accountReadMaxAgeMs?: number;
  temporal: TemporalPort;
  /** What /health reports: loop ticks, the last reconciliation. */
  status: WorkerStatus;
  /** Present in event-driven mode (the worker's market streams wake loops and watch exits). */
  marketEvents?: MarketEventsPort;
}

/** Attempt number of the running activity (1 on the first try). */
export const attempt = (): number => Context.current().info.attempt;

/**
 * Heartbeat every second while `fn` runs, so a worker that dies mid-order is noticed within the
 * activity's heartbeat timeout (seconds) rather than its start-to-close timeout, and the retry on
 * another worker resolves the order by its client id.
 */
export async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
