import type { Logger } from 'pino';
import { NEW_WAKE_STATE, evaluated, flush, observeMark, requestWake, type SymbolWakeState, type WakeReason, type WakeRules, type WakeStep } from '../core/wake-policy.js';
import type { MarketDataService } from './market-data-service.js';

/** Sends one wake to a symbol's loop (a Temporal signal by workflow id in the worker). */
export type WakeSender = (symbol: string, reasons: WakeReason[]) => Promise<void>;

export interface LoopWakerOptions extends WakeRules {
  send: WakeSender;
  log: Logger;
  /** Signals in flight at once (a candle close of hundreds of symbols arrives together). */
  concurrency?: number;
}

/** Default gap between two wakes of one loop. */
export const DEFAULT_WAKE_GAP_MS = 2_000;

export interface WakeStats {
  sent: number;
  failed: number;
  /** Wakes merged into one already pending. */
  coalesced: number;
}

/**
 * Event-driven mode in the worker: turns the market-data service's `candleClosed` and `mark` events into
 * wakes of the symbol loops (core/wake-policy.ts decides when), and is told by the signal activity when a
 * loop evaluated. State is in memory: after a restart the first mark is the reference again, and a wake lost
 * while the worker was down is covered by the loop's interval timer.
 */
export class LoopWaker {
  private readonly bySymbol = new Map<string, SymbolWakeState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queue: { symbol: string; reasons: WakeReason[] }[] = [];
  private inFlight = 0;
  private closed = false;
  readonly stats: WakeStats = { sent: 0, failed: 0, coalesced: 0 };

  constructor(
    private readonly md: Pick<MarketDataService, 'on' | 'off'>,
    private readonly opts: LoopWakerOptions,
  ) {
    md.on('candleClosed', this.onCandle);
    md.on('mark', this.onMark);
  }

  /** The loop of `symbol` started an evaluation at `startedAt`: it has seen what came before. */
  loopEvaluated(symbol: string, startedAt = Date.now()): void {
    const s = this.bySymbol.get(symbol);
    if (!s) return;
    const next = evaluated(s, startedAt);
    this.bySymbol.set(symbol, next);
    if (!next.pending) this.clearTimer(symbol);
  }

  close(): void {
    this.closed = true;
    this.md.off('candleClosed', this.onCandle);
    this.md.off('mark', this.onMark);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
  }

  private readonly onCandle = (e: { symbol: string }): void => {
    const s = this.state(e.symbol);
    if (s.pending) this.stats.coalesced++;
    this.apply(e.symbol, requestWake(s, 'CANDLE_CLOSED', Date.now(), this.opts));
  };

  private readonly onMark = (m: { symbol: string; price: number }): void => {
    const s = this.state(m.symbol);
    const step = observeMark(s, m.price, Date.now(), this.opts);
    if (s.pending && step.state.pending && step.state.pending.reasons.length > s.pending.reasons.length) this.stats.coalesced++;
    this.apply(m.symbol, step);
  };

  private state(symbol: string): SymbolWakeState {
    return this.bySymbol.get(symbol) ?? NEW_WAKE_STATE;
  }

  private apply(symbol: string, step: WakeStep): void {
    this.bySymbol.set(symbol, step.state);
    if (step.send) this.enqueue(symbol, step.send);
    if (step.sendAt !== null && !this.timers.has(symbol)) {
      this.timers.set(symbol, setTimeout(() => {
        this.timers.delete(symbol);
        this.apply(symbol, flush(this.state(symbol), Date.now(), this.opts));
      }, Math.max(0, step.sendAt - Date.now())));
    }
  }

  private clearTimer(symbol: string): void {
    const t = this.timers.get(symbol);
    if (t) clearTimeout(t);
    this.timers.delete(symbol);
  }

  private enqueue(symbol: string, reasons: WakeReason[]): void {
    if (this.closed) return;
    this.queue.push({ symbol, reasons });
    this.pump();
  }

  private pump(): void {
    const limit = this.opts.concurrency ?? 32;
    while (this.inFlight < limit && this.queue.length > 0) {
      const { symbol, reasons } = this.queue.shift()!;
      this.inFlight++;
      this.opts
        .send(symbol, reasons)
        .then(
          () => void this.stats.sent++,
          (err: unknown) => {
            // No loop to wake (not started, or killed by terminate): its timer or a restart covers it.
            this.stats.failed++;
            this.opts.log.debug({ symbol, err: err instanceof Error ? err.message : String(err) }, 'loop not woken');
          },
        )
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }
}
