import type { StopAnswer } from '../core/position-lifecycle.js';
import { exitOrderSide } from '../core/types.js';
import { BinanceCode, ExchangeError } from '../exchange/errors.js';
import type { AlgoStatus } from '../exchange/types.js';
import { AccountReader } from './account-reader.js';
import type { TradingActivities } from './contracts.js';
import { keepAlive, type ActivityDeps } from './deps.js';
import { toActivityError } from './idempotent-orders.js';
import { fillFact } from './position-orders.js';

/** A stop in one of these states is (or was) on the exchange for this position: placing it again is wrong. */
const STOP_IS_ON: ReadonlySet<AlgoStatus> = new Set(['NEW', 'TRIGGERING', 'TRIGGERED', 'FINISHED']);

const text = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const notOpen = (err: unknown): boolean => err instanceof ExchangeError && (err.code === BinanceCode.CANCEL_REJECTED || err.code === BinanceCode.NO_SUCH_ORDER);

type WatchActivities = Pick<TradingActivities, 'placeStop' | 'cancelStop' | 'readExchangePosition' | 'gatherCloseEvidence'>;

/** The protective stop, the position reads (batched per worker) and the evidence that a position closed. */
export function positionWatchActivities(deps: ActivityDeps, reader: AccountReader = new AccountReader(deps.exchange)): WatchActivities {
  const { exchange: ex } = deps;
  return {
    placeStop(req) {
      return keepAlive(async (): Promise<StopAnswer> => {
        try {
          const existing = await ex.getAlgoOrder(req.symbol, req.clientAlgoId);
          if (existing && STOP_IS_ON.has(existing.status)) return { outcome: 'PLACED', venueTime: existing.updateTime || null };
        } catch (err) {
          return { outcome: 'FAILED', reason: text(err) };
        }
        try {
          const a = await ex.placeStopOrder({ symbol: req.symbol, side: exitOrderSide(req.side), type: 'STOP_MARKET', triggerPrice: req.triggerPrice, clientAlgoId: req.clientAlgoId, sendBefore: req.sendBefore });
          return { outcome: 'PLACED', venueTime: a.updateTime || null };
        } catch (err) {
          if (!(err instanceof ExchangeError)) return { outcome: 'FAILED', reason: text(err) };
          if (err.code === BinanceCode.WOULD_IMMEDIATELY_TRIGGER) return { outcome: 'WOULD_TRIGGER', reason: err.message };
          if (err.code === BinanceCode.DUPLICATE_CLIENT_ID) return { outcome: 'FAILED', reason: `${err.message}; looked up again next attempt` };
          if (err.kind === 'rejected') return { outcome: 'REFUSED', reason: err.message, code: err.code ?? null };
          return { outcome: 'FAILED', reason: err.message };
        }
      });
    },

    async cancelStop({ symbol, clientAlgoId }) {
      try {
        await ex.cancelAlgoOrder(symbol, clientAlgoId);
        return { outcome: 'GONE', actualOrderId: null };
      } catch (err) {
        if (!notOpen(err)) return { outcome: 'FAILED', actualOrderId: null, reason: text(err) };
      }
      // Not open: it never landed, was cancelled or expired, or it fired.
      try {
        const a = await ex.getAlgoOrder(symbol, clientAlgoId);
        if (a?.status === 'FINISHED' && a.actualOrderId !== null) return { outcome: 'FIRED', actualOrderId: a.actualOrderId };
        if (a && STOP_IS_ON.has(a.status)) return { outcome: 'FAILED', actualOrderId: null, reason: `stop is ${a.status}` };
        return { outcome: 'GONE', actualOrderId: null };
      } catch (err) {
        return { outcome: 'FAILED', actualOrderId: null, reason: text(err) };
      }
    },

    async readExchangePosition({ symbol, after }) {
      try {
        return await reader.read(symbol, after);
      } catch (err) {
        throw toActivityError(err);
      }
    },

    async gatherCloseEvidence({ symbol, side, clientAlgoId, since }) {
      try {
        const algo = await ex.getAlgoOrder(symbol, clientAlgoId);
        const stop = algo ? { status: algo.status, actualOrderId: algo.actualOrderId } : null;
        // The stop's fill explains it; without a start time, trades cannot be told apart from earlier ones.
        if (stop?.status === 'FINISHED' || since === null) return { stop, closingTrades: [] };
        const trades = await ex.tradesSince(symbol, since);
        return { stop, closingTrades: trades.filter((t) => t.side === exitOrderSide(side)).map(fillFact) };
      } catch (err) {
        throw toActivityError(err);
      }
    },
  };
}
