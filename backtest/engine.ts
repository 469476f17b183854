import type { Candle, ExitReason, PositionSide, Signal } from '../core/types.js';
import { SIGNAL_CLASSES, entryOrderSide, exitOrderSide } from '../core/types.js';
import type { TradingParams } from '../core/params.js';
import { decideEntry } from '../core/decision.js';
import { type ExitTracker, newTracker, observePrice, trailingLevel } from '../core/exits.js';
import { quietCandle } from '../core/labels.js';
import { type RiskLimits, checkRisk } from '../core/risk.js';
import { intrabarPath } from '../core/intrabar.js';
import { TAKER_FEE_RATE, grossPnl, slippedPrice } from '../core/costs.js';
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
}

export interface EngineOptions {
  params: TradingParams;
  limits: RiskLimits;
  /** Loop resolution: the symbol workflow ticks every checkIntervalSeconds (15 s). */
  stepMs?: number;
  slippageBps?: number;
  feeRate?: number;
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

export interface EngineResult {
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
  tracker: ExitTracker;
  quantity: number;
  notional: number;
  entryFee: number;
}

const DAY_MS = 86_400_000;

/**
 * Replays the symbol loop without Temporal: every `stepMs` inside every candle, each symbol either
 * feeds its open position's price to core/exits.ts, or (flat) asks core/decision.ts whether the
 * signal of the last closed candle opens a position, then core/risk.ts with the whole book. Fills
 * are MARKET at the intrabar price with the local exchange's slippage and taker fee.
 */
export function runEngine(market: Market, tracks: SignalTrack[], opts: EngineOptions): EngineResult {
  const { params, limits } = opts;
  const stepMs = opts.stepMs ?? params.checkIntervalSeconds * 1000;
  const feeRate = opts.feeRate ?? TAKER_FEE_RATE;
  const ticks = Math.max(1, Math.round(market.intervalMs / stepMs));
  const times = timeline(market);
  const n = market.symbols.length;
  const cursor = market.candles.map((cs) => lowerBound(cs, market.from));
  const open: (Open | null)[] = new Array(n).fill(null);
  const cooldownUntil = new Float64Array(n);
  const trades: Trade[] = [];
  const equity = new Float64Array(times.length);
  const symbolExposedSteps = new Array<number>(n).fill(0);
  const riskRejections: Record<string, number> = {};
  let realized = 0;
  let realizedToday = 0;
  let day = -1;
  let exposedSteps = 0;
  const bar: (Candle | null)[] = new Array(n).fill(null);
  const path: (number[] | null)[] = new Array(n).fill(null);
  // Symbols that can do anything this candle: a position to watch or a signal that may open one.
  const active: number[] = [];
  // The book only changes when a position opens or closes: a risk verdict holds until then.
  let bookVersion = 0;
  const verdictVersion = new Float64Array(n).fill(-1);
  const verdictNotional = new Float64Array(n);
  const verdictApproved = new Uint8Array(n);

  for (let step = 0; step < times.length; step++) {
    const t0 = times[step]!;
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
      path[s] = null;
      if (!c) continue;
      const pos = open[s];
      if (pos) {
        // A candle whose whole range can neither fire an exit nor arm the trail, with the time limit
        // beyond its last tick, changes nothing (same exact shortcut as the labels): skip its ticks.
        const t = pos.tracker;
        const lastTick = t0 + (ticks - 1) * stepMs;
        const quiet = t.openedAt < t0 && lastTick - t.openedAt < params.maxHoldSeconds * 1000 &&
          quietCandle(t.side, t.entryPrice, c, params, trailingLevel(t, params) !== null);
        if (!quiet) active.push(s);
      } else if (actionable(tracks[s]!, cs, i - 1, t0, market.intervalMs, params.confidenceThreshold)) active.push(s);
    }
    for (let k = 0; k < ticks && active.length > 0; k++) {
      const now = t0 + k * stepMs;
      for (const s of active) {
        const c = bar[s]!;
        const pos = open[s];
        if (pos) {
          if (pos.tracker.openedAt === now) continue;
          const price = (path[s] ??= intrabarPath(c, ticks + 1))[k]!;
          const r = observePrice(pos.tracker, price, now, params);
          pos.tracker = r.tracker;
          if (!r.exit) continue;
          const side = pos.tracker.side;
          const exitPrice = slippedPrice(r.exit.price, exitOrderSide(side), opts.slippageBps);
          const exitFee = exitPrice * pos.quantity * feeRate;
          const pnl = grossPnl(side, pos.tracker.entryPrice, exitPrice, pos.quantity) - pos.entryFee - exitFee;
          trades.push({
            symbol: market.symbols[s]!, side, entryTime: pos.tracker.openedAt, exitTime: now, entryPrice: pos.tracker.entryPrice,
            exitPrice, quantity: pos.quantity, notional: pos.notional, fees: pos.entryFee + exitFee, pnl, reason: r.exit.reason,
          });
          realized += pnl;
          realizedToday += pnl;
          open[s] = null;
          bookVersion++;
          cooldownUntil[s] = now + params.cooldownSeconds * 1000;
          continue;
        }
        // The signal of the last closed candle (the one before the candle now forming).
        const prev = cursor[s]! - 1;
        const track = tracks[s]!;
        if (!actionable(track, market.candles[s]!, prev, t0, market.intervalMs, params.confidenceThreshold)) continue;
        const signal = { signal: SIGNAL_CLASSES[track.signal[prev]!] as Signal, confidence: track.confidence[prev]! };
        const d = decideEntry(signal, { now, killed: false, aiTradingEnabled: true, hasOpenPosition: false, cooldownUntil: cooldownUntil[s]! }, params);
        if (d.kind !== 'ENTER') continue;
        if (verdictVersion[s] !== bookVersion || verdictNotional[s] !== d.notional) {
          const book = { globalKill: false, realizedPnlToday: realizedToday, openPositions: openBook(market.symbols, open) };
          const verdict = checkRisk({ symbol: market.symbols[s]!, notional: d.notional, leverage: params.leverage }, book, limits);
          verdictVersion[s] = bookVersion;
          verdictNotional[s] = d.notional;
          verdictApproved[s] = verdict.approved ? 1 : 0;
          // Counted once per book state, not once per 15 s retry.
          if (!verdict.approved) riskRejections[verdict.rule] = (riskRejections[verdict.rule] ?? 0) + 1;
        }
        if (!verdictApproved[s]) continue;
        const price = (path[s] ??= intrabarPath(c, ticks + 1))[k]!;
        const entryPrice = slippedPrice(price, entryOrderSide(d.side), opts.slippageBps);
        const quantity = d.notional / entryPrice;
        open[s] = { tracker: newTracker(d.side, entryPrice, now), quantity, notional: d.notional, entryFee: entryPrice * quantity * feeRate };
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
        const mark = c ? c.close : pos.tracker.entryPrice;
        unrealized += grossPnl(pos.tracker.side, pos.tracker.entryPrice, mark, pos.quantity) - pos.entryFee;
      }
      if (c) cursor[s]!++;
    }
    if (anyOpen) exposedSteps++;
    equity[step] = realized + unrealized;
  }
  return { trades, equity, times, exposedSteps, symbolExposedSteps, riskRejections };
}

/** Whether the signal of closed candle `prev` could open a position during the candle starting at t0. */
function actionable(track: SignalTrack, cs: Candle[], prev: number, t0: number, intervalMs: number, threshold: number): boolean {
  if (prev < 0 || track.signal[prev] === 0 || !(track.confidence[prev]! >= threshold)) return false;
  // After a gap the last closed candle is not the previous interval's: the live service would call it stale.
  return cs[prev]!.openTime === t0 - intervalMs;
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
