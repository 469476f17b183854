/**
 * When a symbol loop is woken by the market (event-driven mode), as pure state per symbol: a closed candle
 * wakes it, and so does a mark that moved more than `movePct` since the loop's last evaluation. Wakes are
 * rate-limited and coalesced: at most one wake per `minGapMs` is sent, and at most one waits behind it (its
 * reasons merged). An evaluation that starts after a request answers it, so a wake the timer already served
 * is not sent. The wake only makes the loop evaluate now; what it may do is decided by core/loop.ts.
 */

export type WakeReason = 'CANDLE_CLOSED' | 'MARK_MOVE';

export interface WakeRules {
  /** QT_EVENT_MOVE_PCT: a mark move beyond this (percent) since the last evaluation wakes the loop. */
  movePct: number;
  /** At most one wake per loop in this window. */
  minGapMs: number;
}

export interface SymbolWakeState {
  /** The mark at the loop's last evaluation (or the first one seen): moves are measured from here. */
  reference: number | null;
  lastMark: number | null;
  /** When the last wake was sent (0: never). */
  lastSentAt: number;
  /** A wake waiting for the gap to pass, with when it was first asked for. */
  pending: { reasons: WakeReason[]; requestedAt: number } | null;
}

export const NEW_WAKE_STATE: SymbolWakeState = { reference: null, lastMark: null, lastSentAt: 0, pending: null };

/** What to do after an event: send a wake now, at a later time (`sendAt`), or nothing. */
export interface WakeStep {
  state: SymbolWakeState;
  /** Reasons to send now (null: nothing to send now). */
  send: WakeReason[] | null;
  /** When the pending wake becomes due (null: none pending). */
  sendAt: number | null;
}

/** Ask for a wake at `now`: sent at once if the gap since the last one has passed, else merged into the pending one. */
export function requestWake(s: SymbolWakeState, reason: WakeReason, now: number, rules: WakeRules): WakeStep {
  const reasons = s.pending ? mergeReasons(s.pending.reasons, reason) : [reason];
  const pending = { reasons, requestedAt: s.pending?.requestedAt ?? now };
  return flush({ ...s, pending }, now, rules);
}

/** A mark update: moves the reference on its first sight, and asks for a wake when the move is beyond the threshold. */
export function observeMark(s: SymbolWakeState, price: number, now: number, rules: WakeRules): WakeStep {
  if (!(price > 0) || !Number.isFinite(price)) return { state: s, send: null, sendAt: s.pending ? dueAt(s, rules) : null };
  if (s.reference === null) return { state: { ...s, reference: price, lastMark: price }, send: null, sendAt: s.pending ? dueAt(s, rules) : null };
  const moved = (Math.abs(price / s.reference - 1) * 100) > rules.movePct;
  // The reference follows a move that asked for a wake, so a trend wakes the loop once per threshold, not every second.
  const next = { ...s, lastMark: price, ...(moved ? { reference: price } : {}) };
  return moved ? requestWake(next, 'MARK_MOVE', now, rules) : { state: next, send: null, sendAt: next.pending ? dueAt(next, rules) : null };
}

/**
 * The loop evaluated at `startedAt`: it has seen everything requested before then, and its reference mark
 * becomes the latest one.
 */
export function evaluated(s: SymbolWakeState, startedAt: number): SymbolWakeState {
  const pending = s.pending && answeredBy(startedAt, s.pending.requestedAt) ? null : s.pending;
  return { ...s, pending, reference: s.lastMark ?? s.reference };
}

/** An evaluation that began at `startedAt` has seen an event of `eventAt` (and so answers a wake for it). */
export function answeredBy(startedAt: number, eventAt: number): boolean {
  return eventAt < startedAt;
}

/** Send the pending wake if its gap has passed. */
export function flush(s: SymbolWakeState, now: number, rules: WakeRules): WakeStep {
  if (!s.pending) return { state: s, send: null, sendAt: null };
  const at = dueAt(s, rules);
  if (at > now) return { state: s, send: null, sendAt: at };
  return { state: { ...s, pending: null, lastSentAt: now }, send: s.pending.reasons, sendAt: null };
}

function dueAt(s: SymbolWakeState, rules: WakeRules): number {
  return s.lastSentAt === 0 ? 0 : s.lastSentAt + rules.minGapMs;
}

function mergeReasons(reasons: WakeReason[], reason: WakeReason): WakeReason[] {
  return reasons.includes(reason) ? reasons : [...reasons, reason];
}
