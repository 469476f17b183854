import type { Logger } from 'pino';
import type { ExitWatchRequest } from '../activities/contracts.js';
import { LIFECYCLE_TIMING, type ArmedExit } from '../core/position-lifecycle.js';
import { judgeMark, NEW_MARK_GUARD, type MarkGuard } from '../core/mark-sanity.js';
import { step as stepPosition, type PositionState } from '../core/position.js';
import type { ExitCrossing } from '../workflows/contracts.js';
import type { MarketDataEvents, MarkEvent } from './market-data-service.js';

/** What the watcher reads of the worker's market data (MarketDataService). */
export interface MarkSource {
  on<K extends 'mark' | 'stale'>(event: K, listener: (...args: MarketDataEvents[K]) => void): unknown;
  off<K extends 'mark' | 'stale'>(event: K, listener: (...args: MarketDataEvents[K]) => void): unknown;
  follows(symbol: string): boolean;
  isStale(symbol: string): boolean;
  latestMark(symbol: string): MarkEvent | null;
}


export interface ExitWatcherOptions {
  /** Signal the position workflow (by workflow id) that a mark crossed one of its exit levels. */
  crossed: (workflowId: string, crossing: ExitCrossing) => Promise<void>;
  /**
   * Send the position's armed exit (activities/stream-exit.ts). Absent: crossings are only signalled, and
   * the position sends its exit from its next workflow task.
   */
  sendExit?: (req: ExitWatchRequest, armed: ArmedExit) => Promise<void>;
  /** Signal it to register again and re-read (its symbol's stream went stale, or came back). */
  reset: (workflowId: string, reason: string) => Promise<void>;
  log: Logger;
  /** A watch not refreshed for this long is dropped (its workflow is gone or moved to another worker). */
  ttlMs: number;
  /** At most one crossing signal per position in this window, while the crossing lasts. */
  minGapMs?: number;
}

interface Watched {
  req: ExitWatchRequest;
  tracker: PositionState;
  guard: MarkGuard;
  expiresAt: number;
  /** The armed exit may be sent until then (this worker's clock); later the crossing is only signalled. */
  armedUntil: number;
  lastSentAt: number;
}

export interface ExitWatchStats {
  watched: number;
  crossings: number;
  /** Armed exits this watcher sent itself. */
  sent: number;
  failed: number;
}

/**
 * Exits on the mark stream (event-driven mode): every mark update of a watched position's symbol is stepped
 * through the position's exit rules (core/position.ts, after the bad-print guard of core/mark-sanity.ts),
 * and a crossed level is signalled to the position workflow at once, which decides the exit in its own pure
 * step. Watches live in memory and are registered, refreshed and dropped by the position workflows (local
 * activities); after a worker restart they come back with each workflow's next registration (the worker asks
 * the running ones to register at start).
 */
export class ExitWatcher {
  private readonly bySymbol = new Map<string, Map<string, Watched>>();
  private readonly stats_ = { crossings: 0, sent: 0, failed: 0 };
  /**
   * Armed exit ids sent from here, with when: each leaves this process once, whatever a later registration
   * says. Kept for twice a watch's time-to-live: by then the position has taken the report in or read flat.
   */
  private readonly spent = new Map<string, number>();

  constructor(
    private readonly md: MarkSource,
    private readonly opts: ExitWatcherOptions,
  ) {
    md.on('mark', this.onMark);
    md.on('stale', this.onStale);
  }

  watchExits(req: ExitWatchRequest): { streaming: boolean } {
    let forSymbol = this.bySymbol.get(req.symbol);
    if (!forSymbol) this.bySymbol.set(req.symbol, (forSymbol = new Map()));
    const known = forSymbol.get(req.positionId);
    const same = known && known.req.entryPrice === req.entryPrice && known.req.side === req.side;
    // A refresh keeps the best price this watcher saw if it is better than the workflow's.
    const best = same && better(req.side, known.tracker.bestPrice, req.bestPrice) ? known.tracker.bestPrice : req.bestPrice;
    const w: Watched = {
      req,
      tracker: { side: req.side, entryPrice: req.entryPrice, openedAt: req.openedAt, bestPrice: best },
      guard: same ? known.guard : NEW_MARK_GUARD,
      expiresAt: Date.now() + this.opts.ttlMs,
      armedUntil: req.armedExit ? Date.now() + LIFECYCLE_TIMING.armedLeaseMs : 0,
      lastSentAt: same ? known.lastSentAt : 0,
    };
    forSymbol.set(req.positionId, w);
    // A new watch judges the latest mark at once: a level crossed between the position opening and its
    // registration is not left waiting for the next mark update (which may not come soon on a quiet symbol).
    const latest = same ? null : this.md.latestMark(req.symbol);
    if (latest && latest.receivedAt >= req.openedAt) this.judge(req.positionId, w, latest.price, Date.now());
    return { streaming: this.md.follows(req.symbol) && !this.md.isStale(req.symbol) };
  }

  unwatchExits(positionId: string): void {
    for (const [symbol, forSymbol] of this.bySymbol) {
      if (forSymbol.delete(positionId) && forSymbol.size === 0) this.bySymbol.delete(symbol);
    }
  }

  /** Whether the position's exit levels are watched here now. */
  isWatching(positionId: string): boolean {
    for (const forSymbol of this.bySymbol.values()) if (forSymbol.has(positionId)) return true;
    return false;
  }

  stats(): ExitWatchStats {
    let watched = 0;
    for (const m of this.bySymbol.values()) watched += m.size;
    return { watched, ...this.stats_ };
  }

  close(): void {
    this.md.off('mark', this.onMark);
    this.md.off('stale', this.onStale);
    this.bySymbol.clear();
  }

  private readonly onMark = (m: { symbol: string; price: number }): void => {
    const forSymbol = this.bySymbol.get(m.symbol);
    if (!forSymbol) return;
    const now = Date.now();
    for (const [positionId, w] of forSymbol) {
      if (now > w.expiresAt) {
        forSymbol.delete(positionId);
        continue;
      }
      this.judge(positionId, w, m.price, now);
    }
    if (forSymbol.size === 0) this.bySymbol.delete(m.symbol);
  };

  /**
   * One mark through the position's bad-print guard and exit rules. A crossed level is signalled at once;
   * with an armed exit, the exit is sent first and the watch is spent (the position confirms the rest).
   */
  private judge(positionId: string, w: Watched, price: number, now: number): void {
    const judged = judgeMark(w.guard, price, w.req.entryPrice);
    w.guard = judged.guard;
    if (!judged.verdict.believed) return;
    const bestBefore = w.tracker.bestPrice;
    const { state, commands } = stepPosition(w.tracker, judged.verdict.price, now, w.req.rules);
    w.tracker = state;
    const exit = commands[0];
    if (!exit || now - w.lastSentAt < (this.opts.minGapMs ?? 1_000)) return;
    w.lastSentAt = now;
    this.stats_.crossings++;
    const crossing = { price: judged.verdict.price, bestPrice: bestBefore };
    const signal = (c: ExitCrossing) => this.opts.crossed(w.req.workflowId, c).catch((err: unknown) => this.failed(positionId, err));
    // A lapsed lease: this watch may have been left behind (the position registers on another worker now).
    const armed = now <= w.armedUntil ? w.req.armedExit : undefined;
    if (!armed || !this.opts.sendExit || this.spent.has(armed.clientOrderId)) {
      void signal(crossing);
      return;
    }
    for (const [id, at] of this.spent) if (now - at > 2 * this.opts.ttlMs) this.spent.delete(id);
    this.spent.set(armed.clientOrderId, now);
    this.unwatchExits(positionId);
    this.stats_.sent++;
    void this.opts
      .sendExit(w.req, armed)
      .catch((err: unknown) => this.opts.log.warn({ positionId, clientOrderId: armed.clientOrderId, err: err instanceof Error ? err.message : String(err) }, 'armed exit not sent from the stream (the position confirms the id, and sends it if it is still needed)'))
      .then(() => signal({ ...crossing, armed: { clientOrderId: armed.clientOrderId, reason: exit.reason } }));
  }

  private readonly onStale = (symbol: string, stale: boolean): void => {
    for (const [positionId, w] of this.bySymbol.get(symbol) ?? []) {
      this.opts.reset(w.req.workflowId, stale ? 'stream stale' : 'stream back').catch((err: unknown) => this.failed(positionId, err));
    }
  };

  private failed(positionId: string, err: unknown): void {
    this.stats_.failed++;
    this.opts.log.warn({ positionId, err: err instanceof Error ? err.message : String(err) }, 'position workflow not reached from the stream');
  }
}

function better(side: 'LONG' | 'SHORT', a: number, b: number): boolean {
  return side === 'LONG' ? a > b : a < b;
}
