import { describe, expect, it } from 'vitest';
import { RandomSignalSource } from './random-signal-source.js';

describe('RandomSignalSource', () => {
  const draw = async (source: RandomSignalSource, symbol: string, n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await source.score(symbol, []));
    return out;
  };

  it('enters with the given probability, above any confidence threshold, on both sides', async () => {
    const signals = await draw(new RandomSignalSource(7, 0.3), 'BTCUSDT', 4000);
    const entries = signals.filter((s) => s.signal !== 'HOLD');
    expect(entries.length / signals.length).toBeGreaterThan(0.27);
    expect(entries.length / signals.length).toBeLessThan(0.33);
    expect(entries.every((s) => s.confidence >= 0.75 && s.confidence <= 1)).toBe(true);
    const buys = entries.filter((s) => s.signal === 'BUY').length;
    expect(buys / entries.length).toBeGreaterThan(0.4);
    expect(buys / entries.length).toBeLessThan(0.6);
    expect(signals[0]!.model).toBe('random:7');
  });

  it('repeats per seed and symbol, and differs between symbols and seeds', async () => {
    const pattern = async (seed: number, symbol: string) => (await draw(new RandomSignalSource(seed, 0.5), symbol, 40)).map((s) => s.signal).join();
    expect(await pattern(1, 'ETHUSDT')).toBe(await pattern(1, 'ETHUSDT'));
    expect(await pattern(1, 'ETHUSDT')).not.toBe(await pattern(1, 'SOLUSDT'));
    expect(await pattern(1, 'ETHUSDT')).not.toBe(await pattern(2, 'ETHUSDT'));
  });
});
