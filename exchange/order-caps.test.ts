import { describe, expect, it } from 'vitest';
import { HardCapCode, isHardCapRefusal } from './errors.js';
import { checkLeverage, checkOpeningOrder, validOrderCaps, type OrderCaps } from './order-caps.js';

const caps: OrderCaps = { maxOrderNotional: 1_000, maxLeverage: 10, priceBandPct: 5 };

function refusal(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

describe('order caps', () => {
  it('pass an order inside every cap, up to the edges', () => {
    expect(refusal(() => checkOpeningOrder(caps, 'ETHUSDT', 0.3, 3_000, 3_000))).toBeNull();
    expect(refusal(() => checkOpeningOrder(caps, 'ETHUSDT', 0.5, 2_000, 2_100))).toBeNull(); // 4.76 % off, 1,000 notional
    expect(refusal(() => checkLeverage(caps, 'ETHUSDT', 10))).toBeNull();
  });

  it.each([
    ['notional above the cap', 0.4, 3_000, 3_000, HardCapCode.ORDER_NOTIONAL, /order notional 1200.00 above cap 1000/],
    ['sizing price 10 % above the mark', 0.01, 3_300, 3_000, HardCapCode.PRICE_BAND, /10.00 % from the mark 3000 \(band 5 %\)/],
    ['sizing price 10 % below the mark', 0.01, 2_700, 3_000, HardCapCode.PRICE_BAND, /from the mark/],
    // A price far below the mark would also make the notional look small: the band is checked first.
    ['huge quantity sized at a tiny price', 1_000, 1, 3_000, HardCapCode.PRICE_BAND, /from the mark/],
  ])('refuse %s as a final refusal with its own code', (_name, quantity, sizedAt, mark, code, message) => {
    const e = refusal(() => checkOpeningOrder(caps, 'ETHUSDT', quantity, sizedAt, mark));
    expect(e).toMatchObject({ kind: 'rejected', code });
    expect(isHardCapRefusal(e)).toBe(true);
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).toMatch(/hard cap, nothing sent/);
  });

  it.each([11, 0, -1, 2.5, NaN])('refuse leverage %s', (leverage) => {
    expect(refusal(() => checkLeverage(caps, 'BTCUSDT', leverage))).toMatchObject({ kind: 'rejected', code: HardCapCode.LEVERAGE });
  });

  it('refuse caps that are not positive numbers, naming the field', () => {
    expect(() => validOrderCaps({ ...caps, priceBandPct: NaN })).toThrow(/priceBandPct NaN/);
    expect(() => validOrderCaps({ ...caps, maxOrderNotional: 0 })).toThrow(/maxOrderNotional 0/);
    expect(validOrderCaps(caps)).toEqual(caps);
  });

  it('an exchange refusal with a Binance code is not a hard cap', () => {
    expect(isHardCapRefusal({ kind: 'rejected', code: -2019 })).toBe(false);
  });
});
