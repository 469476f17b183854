import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultConfig } from './faults.js';
import { ManualFeed } from './feed.js';
import { LiveFeed } from './live-feed.js';
import { sendJson } from './http.js';
import type { Ctx } from './server.js';
import { accountView, algoView, balanceView, fillView, orderView } from './views.js';

/** A request postponed by the lateExecution fault, as /admin/state lists it. */
export interface LateExecution {
  path: string;
  clientId: string | null;
  /** Wall-clock times. */
  receivedAt: number;
  executedAt: number | null;
  /** pending, executed, or "refused <code>: <message>" (the rules in force when it ran said no). */
  outcome: string;
}

export function releaseHeld(held: Array<() => void>): number {
  const all = held.splice(0);
  for (const send of all) send();
  return all.length;
}

/** Under /admin: loopback only, no signature, JSON bodies. */
export async function handleAdmin(ctx: Ctx, req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): Promise<void> {
  const remote = req.socket.remoteAddress ?? '';
  if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(remote)) return sendJson(res, 403, { code: -2015, msg: 'admin API is loopback only' });
  let input: Record<string, unknown> = {};
  try {
    input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
  } catch {
    return sendJson(res, 400, { code: -1100, msg: 'body must be JSON' });
  }
  const route = `${req.method} ${path}`;
  const { engine, feed, faults } = ctx;
  switch (route) {
    case 'POST /admin/price': {
      const symbol = String(input.symbol ?? '');
      const price = Number(input.price);
      if (!(feed instanceof ManualFeed)) return sendJson(res, 400, { code: -1000, msg: 'prices can be set only with the manual feed' });
      if (!/^[A-Z0-9]+(USDT|USDC)$/.test(symbol) || !(price > 0) || !Number.isFinite(price)) return sendJson(res, 400, { code: -1102, msg: 'symbol (…USDT/…USDC) and a finite price > 0 required' });
      feed.setPrice(symbol, price);
      const onTick = feed.price(symbol)!;
      engine.onPriceSet(symbol, onTick);
      // Stream subscribers see a hand-set price at once (kline and mark price), not at the next tick.
      ctx.streams?.publishSymbol(symbol);
      try {
        await ctx.store.flush();
      } catch (e) {
        return sendJson(res, 503, { code: -1006, msg: `price set, state not saved: ${(e as Error).message}` });
      }
      return sendJson(res, 200, { symbol, price: onTick, marketTime: engine.state.marketTime });
    }
    case 'POST /admin/faults':
      try {
        faults.set(input as FaultConfig);
      } catch (e) {
        return sendJson(res, 400, { code: -1102, msg: (e as Error).message });
      }
      return sendJson(res, 200, faults.current());
    case 'DELETE /admin/faults':
      faults.clear();
      return sendJson(res, 200, faults.current());
    case 'GET /admin/faults':
      return sendJson(res, 200, faults.current());
    case 'POST /admin/release':
      return sendJson(res, 200, { released: releaseHeld(ctx.held) });
    case 'GET /admin/state': {
      engine.advance();
      const s = engine.state;
      return sendJson(res, 200, {
        feed: feed.kind,
        marketTime: s.marketTime,
        balances: Object.keys(s.wallets).map((a) => balanceView(engine, a)),
        account: accountView(engine),
        orders: s.orders.map((o) => orderView(engine, o)),
        algoOrders: s.algoOrders.map((a) => algoView(engine, a)),
        fills: s.fills.map((f) => fillView(engine, f)),
        funding: s.funding,
        faults: faults.current(),
        heldResponses: ctx.held.length,
        lateExecutions: ctx.lateLog,
        requests: ctx.requests,
        storage: ctx.store.status(),
        streams: ctx.streams?.status() ?? null,
        ...(feed instanceof LiveFeed ? { live: feed.status() } : {}),
      });
    }
    default:
      return sendJson(res, 404, { code: -1000, msg: `Unknown admin endpoint ${route}` });
  }
}
