import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { ExitWatchRequest } from '../../activities/contracts.js';
import { LIFECYCLE_TIMING, type ArmedExit } from '../../core/position-lifecycle.js';
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

function setup(send?: (req: ExitWatchRequest, armed: ArmedExit) => Promise<void>) {
  const marks = new Marks();
  const crossings: { workflowId: string; crossing: ExitCrossing }[] = [];
  const watcher = new ExitWatcher(marks, {
    crossed: async (workflowId, crossing) => void crossings.push({ workflowId, crossing }),
    ...(send ? { sendExit: send } : {}),
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

  it('with an armed exit, sends it first, once, then reports the crossing with the id and the reason', async () => {
    const sent: string[] = [];
    const { marks, crossings, watcher } = setup(async (req, armed) => void sent.push(`${req.symbol} ${armed.clientOrderId} ${armed.quantity}`));
    const armed = { ...watched(Date.now() - 1_000), armedExit: { clientOrderId: 'qt-a-1-X1', quantity: 2 } };
    watcher.watchExits(armed);
    marks.publish('BTCUSDT', 98.9);
    await vi.waitFor(() => expect(crossings).toHaveLength(1));
    expect(sent).toEqual(['BTCUSDT qt-a-1-X1 2']);
    expect(crossings[0]!.crossing).toEqual({ price: 98.9, bestPrice: 100, armed: { clientOrderId: 'qt-a-1-X1', reason: 'STOP_LOSS' } });
    expect(watcher.isWatching('p1')).toBe(false); // spent
    // Registered again with the same id before the position took the report in: never sent twice from here.
    watcher.watchExits(armed); // judges the latest mark (still through the stop) at once
    await vi.waitFor(() => expect(crossings).toHaveLength(2));
    expect(sent).toHaveLength(1);
    expect(crossings[1]!.crossing.armed).toBeUndefined();
    expect(watcher.stats()).toMatchObject({ sent: 1, crossings: 2 });
  });

  it('reports the crossing with the armed id even when the send failed (the position sends it then)', async () => {
    const { marks, crossings, watcher } = setup(async () => {
      throw new Error('503 from the exchange');
    });
    watcher.watchExits({ ...watched(Date.now() - 1_000), armedExit: { clientOrderId: 'qt-a-1-X1', quantity: 1 } });
    marks.publish('BTCUSDT', 102.5);
    await vi.waitFor(() => expect(crossings).toHaveLength(1));
    expect(crossings[0]!.crossing.armed).toEqual({ clientOrderId: 'qt-a-1-X1', reason: 'TAKE_PROFIT' });
  });

  it('sends an armed exit only within its lease: a watch not registered again lapses to signalling', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const sent: string[] = [];
      const { marks, crossings, watcher } = setup(async (_req, armed) => void sent.push(armed.clientOrderId));
      watcher.watchExits({ ...watched(Date.now() - 1_000), armedExit: { clientOrderId: 'qt-a-1-X1', quantity: 1 } });
      vi.setSystemTime(Date.now() + LIFECYCLE_TIMING.armedLeaseMs + 1);
      marks.publish('BTCUSDT', 102.5);
      await vi.waitFor(() => expect(crossings).toHaveLength(1));
      expect(sent).toEqual([]);
      expect(crossings[0]!.crossing.armed).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
