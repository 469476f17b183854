import { DEFAULT_RISK_LIMITS } from '../core/risk.js';
import { ExchangeError, HardCapCode } from './errors.js';

/**
 * Hard caps the adapter enforces on every opening order right before it leaves, independently of the risk
 * check that decided it: a defect anywhere between the decision and the request (sizing, a bad print, a wrong
 * leverage) cannot send an order beyond them. Orders that only reduce a position are never held back.
 */
export interface OrderCaps {
  /** Largest notional of one opening order, at the price it was sized with (quote asset). */
  maxOrderNotional: number;
  /** Largest leverage `prepareSymbol` sets. */
  maxLeverage: number;
  /**
   * Largest distance, in percent, between the price an opening order was sized with and the mark price read
   * right before it is sent.
   */
  priceBandPct: number;
}

/** Binance's own market-order price protection sits at 5 % on most USD-M symbols. */
export const DEFAULT_PRICE_BAND_PCT = 5;

export const DEFAULT_ORDER_CAPS: OrderCaps = {
  maxOrderNotional: DEFAULT_RISK_LIMITS.maxOrderNotional,
  maxLeverage: DEFAULT_RISK_LIMITS.maxLeverage,
  priceBandPct: DEFAULT_PRICE_BAND_PCT,
};

const refuse = (code: number, message: string): ExchangeError => new ExchangeError('rejected', `${message}; hard cap, nothing sent`, { code });

/** Refuses a leverage above the cap (or not a whole number of at least 1). */
export function checkLeverage(caps: OrderCaps, symbol: string, leverage: number): void {
  if (!Number.isInteger(leverage) || leverage < 1) throw refuse(HardCapCode.LEVERAGE, `${symbol}: leverage ${String(leverage)} is not a whole number of at least 1`);
  if (leverage > caps.maxLeverage) throw refuse(HardCapCode.LEVERAGE, `${symbol}: leverage ${leverage} above cap ${caps.maxLeverage}`);
}

/**
 * Refuses an opening order whose sizing price is more than the band away from the mark, or whose notional at
 * that price is above the cap. Both numbers are known positive and finite here (the adapter checks first).
 */
export function checkOpeningOrder(caps: OrderCaps, symbol: string, quantity: number, sizedAt: number, mark: number): void {
  const offPct = (Math.abs(sizedAt - mark) / mark) * 100;
  if (offPct > caps.priceBandPct) {
    throw refuse(HardCapCode.PRICE_BAND, `${symbol}: sized at ${sizedAt}, ${offPct.toFixed(2)} % from the mark ${mark} (band ${caps.priceBandPct} %)`);
  }
  const notional = quantity * sizedAt;
  if (notional > caps.maxOrderNotional) {
    throw refuse(HardCapCode.ORDER_NOTIONAL, `${symbol}: order notional ${notional.toFixed(2)} above cap ${caps.maxOrderNotional}`);
  }
}

/** Refuses caps that are not positive finite numbers, naming the field (a wrong cap must not mean "no cap"). */
export function validOrderCaps(caps: OrderCaps): OrderCaps {
  for (const [name, value] of Object.entries(caps)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw new Error(`order caps: ${name} ${String(value)} is not a finite number above zero`);
  }
  return caps;
}
