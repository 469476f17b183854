import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ExitWatchRequest } from '../../activities/contracts.js';
import { ExitWatcher } from '../../market/exit-watcher.js';
import type { MarkEvent, MarketDataEvents } from '../../market/market-data-service.js';
import type { ExitCrossing } from '../../workflows/contracts.js';

/** The market-data side the watcher reads: mark events, and the latest mark per symbol. */
class Marks extends EventEmitter<MarketDataEvents> {
  readonly latest = new Map<string, MarkEvent>();
  publish(symbol: string, price: number, receivedAt = Date.now()): void {
    const m = { symbol, price, eventTime: receivedAt, receivedAt };
    this.latest.set(symbol, m);
    this.emit('mark', m);
  }
  latestMark(symbol: string): MarkEvent | null {
    return this.latest.get(symbol) ?? null;
  }
  follows(): boolean {
    return true;
  }
  isStale(): boolean {
    return false;
  }
}

const RULES = { takeProfitPct: 2, stopLossPct: 1, trailingStopPct: 0.5, trailingActivationPct: 1, maxHoldSeconds: 3_600 };

function watched(openedAt: number, side: 'LONG' | 'SHORT' = 'LONG'): ExitWatchRequest {
  return { positionId: 'p1', workflowId: 'wf-p1', symbol: 'BTCUSDT', side, entryPrice: 100, openedAt, bestPrice: 100, rules: RULES };
}

function setup() {
  const marks = new Marks();
  const crossings: { workflowId: string; crossing: ExitCrossing }[] = [];
  const watcher = new ExitWatcher(marks, {
    crossed: async (workflowId, crossing) => void crossings.push({ workflowId, crossing }),
    reset: async () => {},
    log: pino({ level: 'silent' }),
    ttlMs: 60_000,
    minGapMs: 1_000,
  });
  return { marks, crossings, watcher };
}

describe('ExitWatcher', () => {
  it('signals the position once when a mark crosses its take profit, and nothing inside the levels', () => {
    const { marks, crossings, watcher } = setup();
    watcher.watchExits(watched(Date.now() - 1_000));
    marks.publish('BTCUSDT', 100.5);
    marks.publish('BTCUSDT', 101.9);
    expect(crossings).toEqual([]);
    marks.publish('BTCUSDT', 102.1);
    marks.publish('BTCUSDT', 102.2); // within the minimum gap: not signalled again
    expect(crossings).toEqual([{ workflowId: 'wf-p1', crossing: { price: 102.1, bestPrice: 101.9 } }]);
  });

  it('judges the latest mark at registration: a level crossed before the watch existed is signalled at once', () => {
    const { marks, crossings, watcher } = setup();
    const openedAt = Date.now() - 1_000;
    marks.publish('BTCUSDT', 98.9, openedAt + 10); // below the stop, after the position opened
    watcher.watchExits(watched(openedAt));
    expect(crossings).toEqual([{ workflowId: 'wf-p1', crossing: { price: 98.9, bestPrice: 100 } }]);
  });

  it('does not judge a mark from before the position opened, nor again on a refresh', () => {
    const { marks, crossings, watcher } = setup();
    const openedAt = Date.now();
    marks.publish('BTCUSDT', 98.9, openedAt - 5_000);
    watcher.watchExits(watched(openedAt));
    expect(crossings).toEqual([]);
    marks.latest.set('BTCUSDT', { symbol: 'BTCUSDT', price: 98.9, eventTime: openedAt + 1, receivedAt: openedAt + 1 });
    watcher.watchExits(watched(openedAt)); // the same position refreshing its watch
    expect(crossings).toEqual([]);
  });

  it('never signals on a bad print, and believes a large move only when the next mark confirms it', () => {
    const { marks, crossings, watcher } = setup();
    watcher.watchExits(watched(Date.now() - 1_000, 'SHORT'));
    marks.publish('BTCUSDT', 1e300);
    marks.publish('BTCUSDT', 0);
    marks.publish('BTCUSDT', 150);
    expect(crossings).toEqual([]);
    marks.publish('BTCUSDT', 151);
    expect(crossings.map((c) => c.crossing.price)).toEqual([151]);
  });

  it('drops a watch once it is released', () => {
    const { marks, crossings, watcher } = setup();
    watcher.watchExits(watched(Date.now() - 1_000));
    expect([watcher.stats().watched, watcher.isWatching('p1')]).toEqual([1, true]);
    watcher.unwatchExits('p1');
    expect(watcher.isWatching('p1')).toBe(false);
    marks.publish('BTCUSDT', 90);
    expect(crossings).toEqual([]);
    expect(watcher.stats().watched).toBe(0);
  });
});
