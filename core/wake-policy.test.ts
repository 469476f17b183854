import { describe, expect, it } from 'vitest';
import { NEW_WAKE_STATE, evaluated, flush, observeMark, requestWake, type WakeRules } from './wake-policy.js';

const RULES: WakeRules = { movePct: 0.5, minGapMs: 2_000 };
const T0 = 1_000_000;

describe('event wake policy (core/wake-policy.ts)', () => {
  it('sends a candle close at once, and coalesces what follows within the gap into one pending wake', () => {
    const first = requestWake(NEW_WAKE_STATE, 'CANDLE_CLOSED', T0, RULES);
    expect(first.send).toEqual(['CANDLE_CLOSED']);
    const second = requestWake(first.state, 'CANDLE_CLOSED', T0 + 100, RULES);
    expect(second.send).toBeNull();
    expect(second.sendAt).toBe(T0 + 2_000);
    const third = requestWake(second.state, 'MARK_MOVE', T0 + 200, RULES);
    expect(third.send).toBeNull();
    expect(third.state.pending).toEqual({ reasons: ['CANDLE_CLOSED', 'MARK_MOVE'], requestedAt: T0 + 100 });
    expect(flush(third.state, T0 + 1_999, RULES).send).toBeNull();
    const due = flush(third.state, T0 + 2_000, RULES);
    expect(due.send).toEqual(['CANDLE_CLOSED', 'MARK_MOVE']);
    expect(due.state.pending).toBeNull();
  });

  it('wakes on a mark move beyond the threshold since the last evaluation, not on smaller ones', () => {
    let s = observeMark(NEW_WAKE_STATE, 100, T0, RULES).state; // the first mark is the reference
    const small = observeMark(s, 100.4, T0 + 1_000, RULES);
    expect(small.send).toBeNull();
    s = small.state;
    const big = observeMark(s, 100.6, T0 + 2_000, RULES);
    expect(big.send).toEqual(['MARK_MOVE']);
    // The reference followed the move: the same level does not wake again every second.
    expect(observeMark(big.state, 100.7, T0 + 5_000, RULES).send).toBeNull();
    // Downward moves count the same.
    expect(observeMark(big.state, 100.0, T0 + 5_000, RULES).send).toEqual(['MARK_MOVE']);
  });

  it('measures moves from the mark at the last evaluation, and drops a wake the evaluation already answered', () => {
    let s = observeMark(NEW_WAKE_STATE, 100, T0, RULES).state;
    s = observeMark(s, 100.3, T0 + 1_000, RULES).state;
    s = evaluated(s, T0 + 1_500);
    expect(s.reference).toBe(100.3);
    expect(observeMark(s, 100.6, T0 + 2_000, RULES).send).toBeNull(); // 0.3% from 100.3
    const sent = requestWake(s, 'CANDLE_CLOSED', T0 + 3_000, RULES).state;
    const waiting = requestWake(sent, 'CANDLE_CLOSED', T0 + 3_500, RULES).state;
    expect(waiting.pending).not.toBeNull();
    expect(evaluated(waiting, T0 + 3_600).pending).toBeNull();
    expect(evaluated(waiting, T0 + 3_400).pending).not.toBeNull(); // started before the request: still owed
  });

  it('ignores an implausible mark', () => {
    const s = observeMark(NEW_WAKE_STATE, 100, T0, RULES).state;
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const r = observeMark(s, bad, T0 + 1_000, RULES);
      expect(r.send).toBeNull();
      expect(r.state).toEqual(s);
    }
  });
});
