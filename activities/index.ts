import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { exitLevels } from '../core/exits.js';
import { grossPnl } from '../core/costs.js';
import { checkRisk, type RiskLimits } from '../core/risk.js';
import { entryOrderSide, exitOrderSide, type ExitReason, type PositionSide } from '../core/types.js';
import { ExchangeError } from '../exchange/errors.js';
import type { FuturesExchange, OrderState } from '../exchange/types.js';
import type { EntryResult, ExitResult, StopSettlement, TradingActivities } from './contracts.js';
import { summarizeFills } from './fills.js';
import { awaitFinal, placeMarketOrderOnce, toActivityError } from './idempotent-orders.js';
import type { JournalPort } from './journal-port.js';
import type { CandleCache } from './market-data.js';
import { holdSignal, type SignalSource } from './signal-source.js';
import type { SignalLog } from './signal-log.js';
import type { Metrics } from './metrics.js';

export interface ActivityDeps {
  exchange: FuturesExchange;
  journal: JournalPort;
  candles: CandleCache;
  signals: SignalSource;
  risk: () => RiskLimits;
  log: Logger;
  signalLog: SignalLog;
  metrics: Metrics;
}

const attempt = (): number => Context.current().info.attempt;

/**
 * Heartbeat every second while `fn` runs, so a worker that dies mid-order is noticed within the
 * activity's heartbeat timeout (seconds) rather than its start-to-close timeout, and the retry on
 * another worker resolves the order by its client id.
 */
async function keepAlive<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

function startOfUtcDay(now = Date.now()): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/** Every side effect the workflows need, bound to real adapters. */
export function createActivities(deps: ActivityDeps): TradingActivities {
  const { exchange: ex, journal, log, metrics } = deps;

  async function journalOrder(o: OrderState, positionId: string, purpose: 'ENTRY' | 'EXIT', type = 'MARKET'): Promise<void> {
    await journal.upsertOrder({
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      positionId,
      purpose,
      side: o.side,
      type,
      quantity: o.origQty,
      status: o.status,
      exchangeOrderId: o.orderId,
      avgPrice: o.avgPrice,
      executedQty: o.executedQty,
      reduceOnly: o.reduceOnly,
      updatedAt: new Date(o.updateTime || Date.now()),
    });
  }

  /** Fills of a filled order, journaled; returns their summary. */
  async function bookFills(o: OrderState, positionId: string) {
    const fills = await ex.tradesForOrder(o.symbol, o.orderId);
    if (fills.length === 0 && o.executedQty > 0) throw new Error(`order ${o.clientOrderId} filled but its trades are not visible yet`);
    await journal.recordFills(fills.map((f) => ({ ...f, clientOrderId: o.clientOrderId, positionId })));
    return summarizeFills(fills);
  }

  async function settleExit(positionId: string, side: PositionSide, entryFee: number, order: OrderState, reason: ExitReason) {
    const s = await bookFills(order, positionId);
    const netPnl = s.realizedPnl - s.fee - entryFee;
    await journal.closePosition({ positionId, exitPrice: s.avgPrice, exitReason: reason, exitFee: s.fee, grossPnl: s.realizedPnl, netPnl, closedAt: new Date(order.updateTime || Date.now()) });
    metrics.positionsClosed.inc({ reason });
    log.info({ positionId, reason, exitPrice: s.avgPrice, netPnl }, `Position closed ${order.symbol} ${side} ${reason} @ ${s.avgPrice} net=${netPnl.toFixed(4)}`);
    return { status: 'CLOSED' as const, exitPrice: s.avgPrice, exitFee: s.fee, grossPnl: s.realizedPnl, netPnl, reason };
  }

  /**
   * Flat on the exchange, yet neither our exit nor our stop filled: closed by hand on the venue, or
   * liquidated. The fills are not ours to find, so the exit is booked at the mark price and the
   * P&L is an estimate (logged as such); the stop is cancelled so it cannot fire on a new position.
   */
  async function settleExternalClose(req: StopSettlement) {
    await ex.cancelAlgoOrder(req.symbol, req.stopClientAlgoId).catch(() => {});
    const position = await journal.getPosition(req.positionId);
    const mark = await ex.markPrice(req.symbol);
    const gross = position ? grossPnl(req.side, position.entryPrice, mark, position.quantity) : 0;
    const netPnl = gross - req.entryFee;
    await journal.closePosition({ positionId: req.positionId, exitPrice: mark, exitReason: 'CLOSED_EXTERNALLY', exitFee: 0, grossPnl: gross, netPnl, closedAt: new Date() });
    log.warn({ positionId: req.positionId }, `Position ${req.positionId} was closed outside the agent; P&L estimated at mark ${mark}`);
    return { status: 'CLOSED' as const, exitPrice: mark, exitFee: 0, grossPnl: gross, netPnl, reason: 'CLOSED_EXTERNALLY' as const };
  }

  return {
    async evaluateSignal({ symbol, dueAt }) {
      const started = performance.now();
      if (dueAt !== undefined) metrics.recordTickLateness(Math.max(0, Date.now() - dueAt) / 1000);
      const { candles, problem } =
        deps.signals.needsCandles === false
          ? { candles: [], problem: null }
          : await deps.candles.closedCandles(symbol).catch((err) => {
              throw toActivityError(err);
            });
      const signal = problem ? holdSignal(symbol, candles, problem) : await deps.signals.score(symbol, candles);
      deps.signalLog.add(signal);
      metrics.signals.inc({ signal: signal.signal });
      metrics.evaluationSeconds.observe((performance.now() - started) / 1000);
      return signal;
    },

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

    async checkEntryRisk(p) {
      const [kill, open, pnl] = await Promise.all([journal.getGlobalKill(), journal.openPositions(), journal.realizedPnlSince(startOfUtcDay())]);
      const verdict = checkRisk(p, { globalKill: kill.on, openPositions: open, realizedPnlToday: pnl }, deps.risk());
      if (!verdict.approved) log.info({ symbol: p.symbol, rule: verdict.rule }, `Risk rejected ${p.symbol}: ${verdict.detail}`);
      return verdict;
    },

    openPosition(req): Promise<EntryResult> {
      return keepAlive(async () => {
        try {
          await ex.prepareSymbol(req.symbol, req.leverage);
          const price = await ex.markPrice(req.symbol);
          const quantity = req.notional / price;
          // The mark just read also serves the adapter's min-notional check: no second lookup.
          const placed = await placeMarketOrderOnce(ex, { symbol: req.symbol, side: entryOrderSide(req.side), quantity, referencePrice: price, clientOrderId: req.clientOrderId }, attempt());
          const order = await awaitFinal(ex, placed);
          await journalOrder(order, req.positionId, 'ENTRY');
          if (order.status !== 'FILLED') return { status: 'REJECTED', reason: `entry order ${order.status}` };
          const fill = await bookFills(order, req.positionId);
          const levels = exitLevels(req.side, fill.avgPrice, req);
          await journal.openPosition({
            positionId: req.positionId,
            workflowId: req.workflowId,
            symbol: req.symbol,
            side: req.side,
            quantity: fill.quantity,
            entryPrice: fill.avgPrice,
            entryFee: fill.fee,
            openedAt: new Date(order.updateTime || Date.now()),
            stopPrice: levels.stopLoss,
            takeProfitPrice: levels.takeProfit,
          });
          metrics.orders.inc({ purpose: 'ENTRY' });
          log.info({ positionId: req.positionId, clientOrderId: order.clientOrderId }, `Order executed ${req.symbol} ${order.side} ${fill.quantity} @ ${fill.avgPrice} (${req.side} entry, fee ${fill.fee.toFixed(4)})`);
          return { status: 'FILLED', quantity: fill.quantity, entryPrice: fill.avgPrice, entryFee: fill.fee, openedAt: order.updateTime, stopPrice: levels.stopLoss, takeProfitPrice: levels.takeProfit };
        } catch (err) {
          if (err instanceof ExchangeError && err.kind === 'rejected') {
            log.warn({ symbol: req.symbol, code: err.code }, `Entry rejected ${req.symbol}: ${err.message}`);
            return { status: 'REJECTED', reason: `${err.code ?? ''} ${err.message}`.trim() };
          }
          throw toActivityError(err);
        }
      });
    },

    placeProtectiveStop(req) {
      return keepAlive(async () => {
        try {
          if (await ex.getAlgoOrder(req.symbol, req.clientAlgoId)) return;
          await ex.placeStopOrder({ symbol: req.symbol, side: exitOrderSide(req.side), type: 'STOP_MARKET', triggerPrice: req.triggerPrice, clientAlgoId: req.clientAlgoId });
          await journal.upsertOrder({
            clientOrderId: req.clientAlgoId,
            symbol: req.symbol,
            positionId: req.positionId,
            purpose: 'PROTECTIVE_STOP',
            side: exitOrderSide(req.side),
            type: 'STOP_MARKET',
            quantity: 0,
            status: 'NEW',
            exchangeOrderId: null,
            avgPrice: req.triggerPrice,
            executedQty: 0,
            reduceOnly: true,
            updatedAt: new Date(),
          });
        } catch (err) {
          // A stop that would trigger at once (-2021) means the price is already through it: the
          // workflow's next check sees the stop-loss level and exits with a MARKET order.
          if (err instanceof ExchangeError && err.code === -2021) return;
          throw toActivityError(err);
        }
      });
    },

    async readPosition({ symbol }) {
      try {
        const [pos] = await ex.positions(symbol);
        const markPrice = pos && pos.markPrice > 0 ? pos.markPrice : await ex.markPrice(symbol);
        return { markPrice, openQuantity: Math.abs(pos?.positionAmt ?? 0) };
      } catch (err) {
        throw toActivityError(err);
      }
    },

    closePosition(req): Promise<ExitResult> {
      return keepAlive(async () => {
        try {
          // Our own exit orders first: a lost response on an earlier attempt must not look like "flat".
          let order: OrderState | null = null;
          for (const id of [...req.earlierClientOrderIds, req.clientOrderId]) order ??= await ex.getOrder(req.symbol, id);
          if (!order) {
            const [pos] = await ex.positions(req.symbol);
            const open = Math.abs(pos?.positionAmt ?? 0);
            if (open === 0) return { status: 'ALREADY_FLAT' };
            order = await placeMarketOrderOnce(ex, { symbol: req.symbol, side: exitOrderSide(req.side), quantity: open, reduceOnly: true, clientOrderId: req.clientOrderId }, attempt());
          }
          order = await awaitFinal(ex, order);
          await journalOrder(order, req.positionId, 'EXIT');
          if (order.status !== 'FILLED') throw ApplicationFailure.create({ message: `exit order ${order.clientOrderId} is ${order.status}` });
          await ex.cancelAlgoOrder(req.symbol, req.stopClientAlgoId).catch((err) => {
            if (!(err instanceof ExchangeError && (err.code === -2013 || err.code === -2011))) throw err;
          });
          metrics.orders.inc({ purpose: 'EXIT' });
          log.info({ positionId: req.positionId }, `Order executed ${req.symbol} ${order.side} ${order.executedQty} @ ${order.avgPrice} (${req.reason} exit)`);
          return await settleExit(req.positionId, req.side, req.entryFee, order, req.reason);
        } catch (err) {
          if (err instanceof ExchangeError && err.code === -2022) return { status: 'ALREADY_FLAT' };
          throw err instanceof ApplicationFailure ? err : toActivityError(err);
        }
      });
    },

    settleProtectiveStop(req) {
      return keepAlive(async () => {
        try {
          const algo = await ex.getAlgoOrder(req.symbol, req.stopClientAlgoId);
          if (!algo?.actualOrderId) {
            if (algo && (algo.status === 'TRIGGERING' || algo.status === 'TRIGGERED')) {
              throw ApplicationFailure.create({ message: `protective stop of ${req.positionId} is ${algo.status}; its fill is not visible yet`, type: 'StopNotSettled' });
            }
            return await settleExternalClose(req);
          }
          const s = summarizeFills(await ex.tradesForOrder(req.symbol, algo.actualOrderId));
          // The stop's MARKET order carries an exchange-made client id; journal it under the stop's id.
          const order: OrderState = {
            symbol: req.symbol,
            orderId: algo.actualOrderId,
            clientOrderId: req.stopClientAlgoId,
            side: algo.side,
            status: 'FILLED',
            origQty: s.quantity,
            executedQty: s.quantity,
            avgPrice: s.avgPrice,
            reduceOnly: true,
            updateTime: algo.updateTime,
          };
          await journalOrder(order, req.positionId, 'EXIT', 'STOP_MARKET');
          // The exchange-side stop sits at the stop-loss level: to the user this is the stop loss.
          return await settleExit(req.positionId, req.side, req.entryFee, order, 'STOP_LOSS');
        } catch (err) {
          throw err instanceof ApplicationFailure ? err : toActivityError(err);
        }
      });
    },

    async journalEntryFailure({ positionId, symbol, side, reason }) {
      log.warn({ positionId, symbol, side }, `Entry failed ${symbol} ${side}: ${reason}`);
      metrics.positionsClosed.inc({ reason: 'ENTRY_FAILED' });
    },
  };
}
