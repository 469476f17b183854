import { describe, expect, it } from 'vitest';
import { splitSymbols } from './symbols.js';

describe('splitSymbols', () => {
  it('trims, upper-cases, drops empty entries and repeats, keeps the order', () => {
    expect(splitSymbols(' ethusdt, BTCUSDT,,ETHUSDT ,solusdc')).toEqual(['ETHUSDT', 'BTCUSDT', 'SOLUSDC']);
    expect(splitSymbols(' , ')).toEqual([]);
  });
});
