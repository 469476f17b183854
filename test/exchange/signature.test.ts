import { describe, expect, it } from 'vitest';
import { hmacSignature, signatureMatches, splitSignature } from '../../exchange/sim/signature.js';
import { floorToStep, roundToTick, stepDecimals, definedOnly } from '../../exchange/rounding.js';

describe('request signing', () => {
  it("matches Binance's published HMAC-SHA256 example", () => {
    const secret = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
    const query = 'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559';
    expect(hmacSignature(secret, query)).toBe('c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71');
    const { payload, signature } = splitSignature(`${query}&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71`);
    expect(payload).toBe(query);
    expect(signatureMatches(secret, payload, signature!)).toBe(true);
    expect(signatureMatches(secret, payload.replace('quantity=1', 'quantity=2'), signature!)).toBe(false);
  });
});

describe('rounding to filters', () => {
  it('floors quantities to the step and never rounds up', () => {
    expect(floorToStep(0.0129, 0.001)).toBe('0.012');
    expect(floorToStep(0.3, 0.1)).toBe('0.3');
    expect(floorToStep(1234.9, 10)).toBe('1230');
    expect(floorToStep(0.00099, 0.001)).toBe('0.000');
  });
  it('rounds prices to the tick with its decimals', () => {
    expect(roundToTick(60123.456, 0.1)).toBe('60123.5');
    expect(roundToTick(0.207414, 0.00001)).toBe('0.20741');
    expect(stepDecimals(1e-8)).toBe(8);
  });
  it('drops undefined params instead of sending "undefined"', () => {
    expect(definedOnly({ a: 1, b: undefined, c: 'x' })).toEqual({ a: 1, c: 'x' });
  });
});
