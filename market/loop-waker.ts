import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { NEW_WAKE_STATE, answeredBy, evaluated, flush, observeMark, requestWake, type SymbolWakeState, type WakeReason, type WakeRules, type WakeStep } from '../core/wake-policy.js';
import type { MarketDataEvents } from './market-data-service.js';

/** Sends one wake to a symbol's loop (a Temporal signal by workflow id in the worker). */
export type WakeSender = (symbol: string, reasons: WakeReason[]) => Promise<void>;

export interface LoopWakerOptions extends WakeRules {
  send: WakeSender;
  log: Logger;
  /**
   * Wakes to loops running on this worker that are sent and not yet answered by the loop's evaluation, at most
   * (a candle close of hundreds of symbols arrives together; see `pump`).
   */
  window?: number;
  /** A sent wake stops counting against the window after this long without its loop's evaluation. */
  answerTimeoutMs?: number;
}

/** Default gap between two wakes of one loop. */
export const DEFAULT_WAKE_GAP_MS = 2_000;

export interface WakeStats {
  sent: number;
  failed: number;
  /** Wakes merged into one already pending. */
  coalesced: number;
  /** Queued wakes dropped because the loop evaluated (on its timer) before their turn came. */
  answered: number;
}

/** Default window of wakes awaiting their evaluation. */
export const DEFAULT_WAKE_WINDOW = 4;
/** Default time a sent wake holds its place in the window without an answer. */
export const DEFAULT_WAKE_ANSWER_TIMEOUT_MS = 2_000;
/**
 * A loop evaluated on this worker within this long runs here (its timer alone evaluates it every
 * `QT_CHECK_INTERVAL`); wakes to other loops cannot be answered here and are sent outside the window.
 */
const RUNS_HERE_MS = 120_000;
/** Signals in flight at once to loops that do not run here. */
const ELSEWHERE_CONCURRENCY = 32;

/**
 * Event-driven mode in the worker: turns the market-data service's `candleClosed` and `mark` events into
 * wakes of the symbol loops (core/wake-policy.ts decides when), and is told by the signal activity when a
 * loop evaluated. State is in memory: after a restart the first mark is the reference again, and a wake lost
 * while the worker was down is covered by the loop's interval timer.
 */
export class LoopWaker {
  private readonly bySymbol = new Map<string, SymbolWakeState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly queue: { symbol: string; reasons: WakeReason[]; queuedAt: number }[] = [];
  /** Wakes sent (or being sent) and not yet answered, by symbol, with the timeout that frees their place. */
  private readonly awaiting = new Map<string, NodeJS.Timeout | null>();
  private readonly lastEvaluatedAt = new Map<string, number>();
  /** Signals in flight to loops that do not run here (they hold no place in the window). */
  private elsewhereInFlight = 0;
  private closed = false;
  readonly stats: WakeStats = { sent: 0, failed: 0, coalesced: 0, answered: 0 };

  constructor(
    private readonly md: Pick<EventEmitter<MarketDataEvents>, 'on' | 'off'>,
    private readonly opts: LoopWakerOptions,
  ) {
    md.on('candleClosed', this.onCandle);
    md.on('mark', this.onMark);
  }

  /** The loop of `symbol` started an evaluation at `startedAt`: it has seen what came before. */
  loopEvaluated(symbol: string, startedAt = Date.now()): void {
    this.lastEvaluatedAt.set(symbol, startedAt);
    if (this.awaiting.has(symbol)) this.answer(symbol);
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
    for (const t of this.awaiting.values()) if (t) clearTimeout(t);
    this.awaiting.clear();
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
    this.queue.push({ symbol, reasons, queuedAt: Date.now() });
    this.pump();
  }

  /**
   * Sends queued wakes, in order, while fewer than `window` to loops running here await their evaluation.
   *
   * Why a window of evaluations and not of signal calls: a signal call returns once the server has stored it, long
   * before the loop runs, so a candle close of 300 symbols used to put 300 workflow tasks in the task queue at once,
   * and every timer tick due in the next seconds waited behind them (bench:fleet at 300: p99 tick lateness
   * 0.56 - 2.24 s over seven runs; 0.38 - 0.53 s over four with a window of 4). Held here, the wakes go out as fast
   * as the loops evaluate, a timer tick waits behind a few of them at most,
   * and a loop whose timer fires first is not woken again.
   *
   * Only this worker's loops tell it they evaluated, so a wake to a loop running on another worker (several
   * workers share a fleet) would hold its place until the timeout: those go out at once, beside the window.
   */
  private pump(): void {
    const window = this.opts.window ?? DEFAULT_WAKE_WINDOW;
    const now = Date.now();
    for (let i = 0; i < this.queue.length; ) {
      const { symbol, reasons, queuedAt } = this.queue[i]!;
      const evaluatedAt = this.lastEvaluatedAt.get(symbol) ?? -Infinity;
      if (answeredBy(evaluatedAt, queuedAt)) {
        this.queue.splice(i, 1);
        this.stats.answered++;
        continue;
      }
      const runsHere = now - evaluatedAt < RUNS_HERE_MS;
      // A second wake to a loop already awaiting one shares its place (the loop takes both in one pass).
      const hasRoom = runsHere ? this.awaiting.size < window || this.awaiting.has(symbol) : this.elsewhereInFlight < ELSEWHERE_CONCURRENCY;
      if (!hasRoom) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      if (runsHere) this.sendAwaited(symbol, reasons);
      else this.sendElsewhere(symbol, reasons);
    }
  }

  /** Sends a wake to a loop running here; it holds a place in the window until the loop evaluates or the timeout. */
  private sendAwaited(symbol: string, reasons: WakeReason[]): void {
    this.clearAnswerTimeout(symbol);
    this.awaiting.set(symbol, null);
    this.send(symbol, reasons).then((sent) => {
      if (!sent || !this.awaiting.has(symbol) || this.closed) return this.answer(symbol);
      this.clearAnswerTimeout(symbol);
      const timeout = setTimeout(() => this.answer(symbol), this.opts.answerTimeoutMs ?? DEFAULT_WAKE_ANSWER_TIMEOUT_MS);
      timeout.unref();
      this.awaiting.set(symbol, timeout);
    });
  }

  private sendElsewhere(symbol: string, reasons: WakeReason[]): void {
    this.elsewhereInFlight++;
    void this.send(symbol, reasons).then(() => {
      this.elsewhereInFlight--;
      this.pump();
    });
  }

  /** Sends one wake; false if it could not be delivered. */
  private async send(symbol: string, reasons: WakeReason[]): Promise<boolean> {
    try {
      await this.opts.send(symbol, reasons);
      this.stats.sent++;
      return true;
    } catch (err) {
      // No loop to wake (not started, or killed by terminate): its timer or a restart covers it.
      this.stats.failed++;
      this.opts.log.debug({ symbol, err: err instanceof Error ? err.message : String(err) }, 'loop not woken');
      return false;
    }
  }

  private clearAnswerTimeout(symbol: string): void {
    const timeout = this.awaiting.get(symbol);
    if (timeout) clearTimeout(timeout);
  }

  /** The wake to `symbol` no longer holds a place in the window. */
  private answer(symbol: string): void {
    this.clearAnswerTimeout(symbol);
    if (!this.awaiting.delete(symbol)) return;
    this.pump();
  }
}
