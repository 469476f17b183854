import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { ExchangeError } from '../exchange/errors.js';
import type { FuturesExchange, MarketOrderRequest, OrderState } from '../exchange/types.js';

/**
 * Longer than the exchange's recvWindow: a request that has not shown up by then never will, because
 * the exchange rejects it as too old. Only after that is a resend safe.
 */
export const UNKNOWN_OUTCOME_SETTLE_MS = 6_000;

/**
 * Send a MARKET order at most once, whatever happened to earlier attempts: look the client order id
 * up first; on a retry, wait out the receive window and look again before sending.
 */
export async function placeMarketOrderOnce(ex: FuturesExchange, req: MarketOrderRequest, attempt: number): Promise<OrderState> {
  const existing = await ex.getOrder(req.symbol, req.clientOrderId);
  if (existing) return existing;
  if (attempt > 1) {
    await sleep(UNKNOWN_OUTCOME_SETTLE_MS);
    const late = await ex.getOrder(req.symbol, req.clientOrderId);
    if (late) return late;
  }
  try {
    return await ex.placeMarketOrder(req);
  } catch (err) {
    if (err instanceof ExchangeError && err.code === -4116) {
      const dup = await ex.getOrder(req.symbol, req.clientOrderId);
      if (dup) return dup;
    }
    throw err;
  }
}

/** A MARKET order is normally FILLED in its response; otherwise poll briefly until it is final. */
export async function awaitFinal(ex: FuturesExchange, order: OrderState): Promise<OrderState> {
  let o = order;
  for (let i = 0; i < 20 && (o.status === 'NEW' || o.status === 'PARTIALLY_FILLED'); i++) {
    await sleep(250);
    o = (await ex.getOrder(o.symbol, o.clientOrderId)) ?? o;
  }
  return o;
}

/**
 * Turn an exchange error into what Temporal should do: rejected = do not retry; retryable = retry,
 * after the exchange's Retry-After when it gave one; unknown = retry (the next attempt queries first).
 */
export function toActivityError(err: unknown): Error {
  if (!(err instanceof ExchangeError)) return err instanceof Error ? err : new Error(String(err));
  const type = `Exchange${err.kind[0]!.toUpperCase()}${err.kind.slice(1)}`;
  if (err.kind === 'rejected') return ApplicationFailure.create({ message: err.message, type, nonRetryable: true, details: [err.code ?? null] });
  return ApplicationFailure.create({ message: err.message, type, nextRetryDelay: err.retryAfterMs, details: [err.code ?? null] });
}
