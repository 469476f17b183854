import type { ExitWatchRequest } from './contracts.js';
import type { ArmedExit } from '../core/position-lifecycle.js';
import { exitOrderSide } from '../core/types.js';
import type { FuturesExchange } from '../exchange/types.js';

/** Where a worker claims an armed exit's id before sending it (the journal). */
export interface ArmedExitClaims {
  /** True for the first claim of the id only; throws when the claim cannot be made (then nothing is sent). */
  claimArmedExit(clientOrderId: string): Promise<boolean>;
}

/**
 * A stream exit leaves at once or not at all: if it cannot go out this soon, the position's own send of the id
 * takes over (well inside the lifecycle's fence for the id, which starts later and is longer).
 */
const STREAM_EXIT_SEND_WINDOW_MS = 2_000;

/**
 * The stream watch's side of an armed exit (event-driven mode): the moment a mark crosses one of a position's
 * levels, the worker sends the exit the position armed, under the id the position chose, reduce-only for
 * what it holds, without waiting for a workflow task. The answer is not reported from here: the position
 * is told of the crossing and confirms the exit with its own send, which looks the id up first (and sends
 * it only if this one did not get through), so every outcome, a lost answer included, ends as a fact.
 */
export async function sendArmedExit(exchange: FuturesExchange, claims: ArmedExitClaims, req: ExitWatchRequest, armed: ArmedExit): Promise<void> {
  // Claimed first, in Postgres: a worker that died after sending the id leaves its claim behind, so the worker that
  // registers the same armed exit after it does not send the id a second time (Binance, like the local exchange,
  // takes a filled order's id again: after a partial fill the second send would execute too). No claim, no send.
  if (!(await claims.claimArmedExit(armed.clientOrderId))) throw new Error(`${armed.clientOrderId} was sent from the stream before (by an earlier worker): not sent again`);
  await exchange.placeMarketOrder({
    symbol: req.symbol,
    side: exitOrderSide(req.side),
    quantity: armed.quantity,
    reduceOnly: true,
    clientOrderId: armed.clientOrderId,
    sendBefore: Date.now() + STREAM_EXIT_SEND_WINDOW_MS,
  });
}
