import type { Candle, ExitReason, PositionSide, Signal } from '../core/types.js';
import { SIGNAL_CLASSES } from '../core/types.js';
import type { TradingParams } from '../core/params.js';
import { type LoopState, couldEnter, positionClosed, staleCandle, tick } from '../core/loop.js';
import { type CustomExit, type PositionState, candleCannotExit, openPosition, step } from '../core/position.js';
import { type RiskLimits, checkRisk } from '../core/risk.js';
import { type IntrabarMode, positionPath } from '../core/intrabar.js';
import { type ExitRules, positionRules } from '../core/exits.js';
import { DEFAULT_SLIPPAGE_BPS, type FillModel, TAKER_FEE_RATE, entryFill, exitFill, grossPnl } from '../core/costs.js';
import type { SignalTrack } from './signals.js';

export interface Market {
  symbols: string[];
  candles: Candle[][];
  intervalMs: number;
  /** Candle open times in [from, to) that are simulated; earlier candles are warm-up only. */
  from: number;
  to: number;
  /** Filled on first use: the simulated candle times. */
  timeline?: Float64Array;
  /** Per symbol, each candle's ATR 14 / close (feature atr_14_norm), for QT_EXIT_MODE=atr; NaN where unknown. */
  atrNorm?: ArrayLike<number>[];
}

export interface BacktesterOptions {
  params: TradingParams;
  limits: RiskLimits;
  /** Loop resolution: the symbol workflow ticks every checkIntervalSeconds (15 s). */
  stepMs?: number;
  slippageBps?: number;
  feeRate?: number;
  /** The strategy's own exit rule, checked after the standard exits. */
  customExit?: CustomExit;
  /** How a position walks each candle (core/intrabar.ts); default `path`. */
  intrabar?: IntrabarMode;
}

export interface Trade {
  symbol: string;
  side: PositionSide;
  entryTime: number;
  exitTime: number;
  entryPrice: number;
  exitPrice: number;
  quantity: number;
  notional: number;
  fees: number;
  /** Net of both fee legs (slippage is inside the prices). */
  pnl: number;
  reason: ExitReason;
}

export interface BacktesterResult {
  trades: Trade[];
  /** Mark-to-market equity change (realized + unrealized) at each candle close of the timeline. */
  equity: Float64Array;
  times: Float64Array;
  /** Candle-steps during which at least one position was open, and per symbol. */
  exposedSteps: number;
  symbolExposedSteps: number[];
  riskRejections: Record<string, number>;
}

interface Open {
  position: PositionState;
  /** Its exit distances, fixed at entry (core/exits.ts), with the time limit. */
  rules: ExitRules;
  quantity: number;
  notional: number;
  entryFee: number;
}

const DAY_MS = 86_400_000;

/**
 * Replays the symbol loop without Temporal: every `stepMs` inside every candle, each symbol either
 * steps its open position (core/position.ts) at the intrabar price, or runs the loop's pass
 * (core/loop.ts) on the signal of the last closed candle and checks an entry against the whole book
 * (core/risk.ts). Fills and fees are core/costs.ts's, as on the local exchange.
 */
export function runBacktester(market: Market, tracks: SignalTrack[], opts: BacktesterOptions): BacktesterResult {
  const { params, limits, customExit } = opts;
  const intrabar = opts.intrabar ?? 'path';
  const stepMs = opts.stepMs ?? params.checkIntervalSeconds * 1000;
  const fills: FillModel = { slippageBps: opts.slippageBps ?? DEFAULT_SLIPPAGE_BPS, feeRate: opts.feeRate ?? TAKER_FEE_RATE };
  const ticks = Math.max(1, Math.round(market.intervalMs / stepMs));
  // The loop acts during the candle after the signal's: a signal older than that (after a gap) is stale.
  const staleAfterMs = market.intervalMs - stepMs;
  const times = timeline(market);
  const n = market.symbols.length;
  const cursor = market.candles.map((cs) => lowerBound(cs, market.from));
  const open: (Open | null)[] = new Array(n).fill(null);
  const loop: LoopState[] = market.symbols.map(() => ({ killed: false, aiTradingEnabled: true, hasOpenPosition: false, cooldownUntil: 0 }));
  const trades: Trade[] = [];
  const equity = new Float64Array(times.length);
  const symbolExposedSteps = new Array<number>(n).fill(0);
  const riskRejections: Record<string, number> = {};
  let realized = 0;
  let realizedToday = 0;
  let day = -1;
  let exposedSteps = 0;
  const bar: (Candle | null)[] = new Array(n).fill(null);
  // This candle's path for a long and for a short (the same under `path`), computed on first use.
  const pathLong: (number[] | null)[] = new Array(n).fill(null);
  const pathShort: (number[] | null)[] = new Array(n).fill(null);
  const pathOf = (s: number, side: PositionSide): number[] => {
    const cache = side === 'LONG' ? pathLong : pathShort;
    return (cache[s] ??= positionPath(bar[s]!, ticks + 1, side, intrabar));
  };
  // Symbols that can do anything this candle: a position to watch or a signal that may open one.
  const active: number[] = [];
  // The book only changes when a position opens or closes: a risk verdict holds until then.
  let bookVersion = 0;
  const verdictVersion = new Float64Array(n).fill(-1);
  const verdictNotional = new Float64Array(n);
  const verdictApproved = new Uint8Array(n);
  const timingOf = (s: number, prev: number) => ({ candleTime: market.candles[s]![prev]!.openTime, intervalMs: market.intervalMs, staleAfterMs });
  const signalOf = (s: number, prev: number) => ({ signal: SIGNAL_CLASSES[tracks[s]!.signal[prev]!] as Signal, confidence: tracks[s]!.confidence[prev]!, atrNorm: market.atrNorm?.[s]?.[prev] });

  for (let stepIndex = 0; stepIndex < times.length; stepIndex++) {
    const t0 = times[stepIndex]!;
    if (Math.floor(t0 / DAY_MS) !== day) {
      day = Math.floor(t0 / DAY_MS);
      realizedToday = 0;
      bookVersion++;
    }
    active.length = 0;
    for (let s = 0; s < n; s++) {
      const cs = market.candles[s]!;
      const i = cursor[s]!;
      const c = i < cs.length && cs[i]!.openTime === t0 ? cs[i]! : null;
      bar[s] = c;
      pathLong[s] = null;
      pathShort[s] = null;
      if (!c) continue;
      const pos = open[s];
      if (pos) {
        // A candle in which no exit can fire changes nothing (the labels take the same shortcut): skip its ticks.
        const quiet = pos.position.openedAt < t0 && candleCannotExit(pos.position, c, t0 + (ticks - 1) * stepMs, pos.rules, customExit);
        if (!quiet) active.push(s);
      } else if (i > 0) {
        const sig = signalOf(s, i - 1);
        if (couldEnter(sig.signal, sig.confidence, params) && !staleCandle(timingOf(s, i - 1), t0)) active.push(s);
      }
    }
    for (let k = 0; k < ticks && active.length > 0; k++) {
      const now = t0 + k * stepMs;
      for (const s of active) {
        const pos = open[s];
        if (pos) {
          if (pos.position.openedAt === now) continue;
          const price = pathOf(s, pos.position.side)[k]!;
          const r = step(pos.position, price, now, pos.rules, customExit);
          pos.position = r.state;
          const exit = r.commands[0];
          if (!exit) continue;
          const side = pos.position.side;
          const out = exitFill(side, exit.price, pos.quantity, fills);
          const pnl = grossPnl(side, pos.position.entryPrice, out.price, pos.quantity) - pos.entryFee - out.fee;
          trades.push({
            symbol: market.symbols[s]!, side, entryTime: pos.position.openedAt, exitTime: now, entryPrice: pos.position.entryPrice,
            exitPrice: out.price, quantity: pos.quantity, notional: pos.notional, fees: pos.entryFee + out.fee, pnl, reason: exit.reason,
          });
          realized += pnl;
          realizedToday += pnl;
          open[s] = null;
          bookVersion++;
          loop[s] = positionClosed(loop[s]!, now, params);
          continue;
        }
        // The signal of the last closed candle (the one before the candle now forming).
        const prev = cursor[s]! - 1;
        const command = tick(loop[s]!, { signal: signalOf(s, prev), params, timing: timingOf(s, prev) }, now).commands[0];
        if (command?.kind !== 'ENTER') continue;
        if (verdictVersion[s] !== bookVersion || verdictNotional[s] !== command.notional) {
          const book = { globalKill: false, realizedPnlToday: realizedToday, openPositions: openBook(market.symbols, open) };
          const verdict = checkRisk({ symbol: market.symbols[s]!, notional: command.notional, leverage: params.leverage }, book, limits);
          verdictVersion[s] = bookVersion;
          verdictNotional[s] = command.notional;
          verdictApproved[s] = verdict.approved ? 1 : 0;
          // Counted once per book state, not once per 15 s retry.
          if (!verdict.approved) riskRejections[verdict.rule] = (riskRejections[verdict.rule] ?? 0) + 1;
        }
        if (!verdictApproved[s]) continue;
        const price = pathOf(s, command.side)[k]!;
        const fill = entryFill(command.side, price, command.notional, fills);
        open[s] = {
          position: openPosition(command.side, fill.price, now), rules: positionRules(params, command.exits),
          quantity: fill.quantity, notional: command.notional, entryFee: fill.fee,
        };
        loop[s] = { ...loop[s]!, hasOpenPosition: true };
        bookVersion++;
      }
    }
    // Mark to market at the candle close; advance cursors.
    let unrealized = 0;
    let anyOpen = false;
    for (let s = 0; s < n; s++) {
      const c = bar[s];
      const pos = open[s];
      if (pos) {
        anyOpen = true;
        symbolExposedSteps[s]!++;
        const mark = c ? c.close : pos.position.entryPrice;
        unrealized += grossPnl(pos.position.side, pos.position.entryPrice, mark, pos.quantity) - pos.entryFee;
      }
      if (c) cursor[s]!++;
    }
    if (anyOpen) exposedSteps++;
    equity[stepIndex] = realized + unrealized;
  }
  return { trades, equity, times, exposedSteps, symbolExposedSteps, riskRejections };
}

function openBook(symbols: string[], open: (Open | null)[]): { symbol: string; notional: number }[] {
  const out: { symbol: string; notional: number }[] = [];
  open.forEach((p, s) => p && out.push({ symbol: symbols[s]!, notional: p.notional }));
  return out;
}

/** Every candle open time in [from, to) of any symbol, ascending. */
export function timeline(m: Market): Float64Array {
  if (m.timeline) return m.timeline;
  const set = new Set<number>();
  for (const cs of m.candles) for (const c of cs) if (c.openTime >= m.from && c.openTime < m.to) set.add(c.openTime);
  m.timeline = Float64Array.from([...set].sort((a, b) => a - b));
  return m.timeline;
}

function lowerBound(cs: Candle[], t: number): number {
  let lo = 0;
  let hi = cs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cs[mid]!.openTime < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
