import { describe, expect, it } from 'vitest';
import { duration, nonNegativeInteger, port, positiveInteger, positiveNumber, symbol, symbolList, time } from './arguments.js';

describe('qt argument parsers', () => {
  it('read well-formed values', () => {
    expect(positiveNumber('0.25')).toBe(0.25);
    expect(positiveNumber('1e3')).toBe(1000);
    expect(positiveInteger('50')).toBe(50);
    expect(nonNegativeInteger('0')).toBe(0);
    expect(port('0')).toBe(0);
    expect(symbol(' btcusdt ')).toBe('BTCUSDT');
    expect(symbolList('ethusdt, AVAXUSDC,ETHUSDT')).toEqual(['ETHUSDT', 'AVAXUSDC']);
    expect(time('2025-08-01')).toBe(Date.UTC(2025, 7, 1));
    expect(time('1754006400')).toBe(Date.UTC(2025, 7, 1));
    expect(duration('90s')).toBe(90_000);
  });

  it.each([
    ['positiveNumber', positiveNumber, ['', ' ', 'abc', '0', '-1', 'NaN', 'Infinity', '0x10', '1,5']],
    ['positiveInteger', positiveInteger, ['1.5', '0', '-3', '1e400']],
    ['nonNegativeInteger', nonNegativeInteger, ['-1', '0.5', 'x']],
    ['port', port, ['65536', '-1', '80.5']],
    ['symbol', symbol, ['BTCUSDT,ETHUSDT', 'BTC-USDT', 'BTCEUR', ',']],
    ['symbolList', symbolList, ['', 'BTCUSDT,??', 'X']],
    ['time', time, ['soon', '12345', '2025-13-45']],
    ['duration', duration, ['5', '-5m', '0s', '1 week']],
  ] as const)('%s refuses malformed values', (_name, parse, values) => {
    for (const v of values) expect(() => (parse as (s: string) => unknown)(v), v).toThrow(/\.$/);
  });
});
