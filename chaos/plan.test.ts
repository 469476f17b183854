import { describe, expect, it } from 'vitest';
import { buildPlan, describePlan, eventCounts, FAULT_KINDS, WARMUP_MS, type PlanInput } from './plan.js';

const AVAILABLE = Array.from({ length: 45 }, (_, i) => `S${String(i).padStart(2, '0')}USDT`);
const input = (seed: number, minutes = 10, symbolCount = 10): PlanInput => ({
  seed,
  minutes,
  symbolCount,
  available: AVAILABLE,
  replayWindowFor: () => ({ from: Date.UTC(2025, 6, 10), to: Date.UTC(2025, 9, 1) }),
});

describe('chaos plan', () => {
  it('is the same for the same seed and different for another', () => {
    expect(describePlan(buildPlan(input(1)))).toEqual(describePlan(buildPlan(input(1))));
    expect(describePlan(buildPlan(input(1)))).not.toEqual(describePlan(buildPlan(input(2))));
  });

  it('has every required event at least as often as the run promises', () => {
    for (const minutes of [3, 10, 30]) {
      const plan = buildPlan(input(minutes, minutes));
      const count = (kind: string) => plan.processEvents.filter((e) => e.kind === kind).length;
      expect(count('worker-kill')).toBeGreaterThanOrEqual(10);
      expect(count('worker-kill')).toBe(eventCounts(minutes).kills);
      expect(plan.processEvents.filter((e) => e.kind === 'worker-kill' && e.inFlight).length).toBeGreaterThanOrEqual(3);
      expect(count('temporal-restart')).toBeGreaterThanOrEqual(2);
      expect(count('postgres-restart')).toBeGreaterThanOrEqual(1);
      expect(count('exchange-restart')).toBeGreaterThanOrEqual(1);
      expect(count('kill-flatten')).toBe(1);
      expect(count('resume')).toBe(1);
      for (const kind of FAULT_KINDS) expect(plan.faults.filter((f) => f.kind === kind).length).toBeGreaterThanOrEqual(1);
    }
    expect(eventCounts(30).kills).toBeGreaterThanOrEqual(50);
  });

  it('keeps events inside the run, in order, with the resume after the kill', () => {
    const plan = buildPlan(input(5));
    const times = plan.processEvents.map((e) => e.at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times[0]).toBeGreaterThanOrEqual(WARMUP_MS);
    const kill = plan.processEvents.find((e) => e.kind === 'kill-flatten')!;
    const resume = plan.processEvents.find((e) => e.kind === 'resume')!;
    expect(resume.at - kill.at).toBeGreaterThanOrEqual(15_000);
    for (const f of plan.faults) {
      expect(f.at).toBeGreaterThanOrEqual(WARMUP_MS);
      expect(f.at + f.durationMs).toBeLessThanOrEqual(10 * 60_000);
    }
  });

  it('bursts of one kind never overlap', () => {
    const plan = buildPlan(input(9, 30));
    for (const kind of FAULT_KINDS) {
      const bursts = plan.faults.filter((f) => f.kind === kind);
      for (let i = 1; i < bursts.length; i++) expect(bursts[i]!.at).toBeGreaterThanOrEqual(bursts[i - 1]!.at + bursts[i - 1]!.durationMs);
    }
  });

  it('picks distinct symbols from the data and a replay start inside the window', () => {
    const plan = buildPlan(input(3, 10, 12));
    expect(new Set(plan.symbols).size).toBe(12);
    expect(plan.symbols.every((s) => AVAILABLE.includes(s))).toBe(true);
    expect(plan.replayStart).toBeGreaterThanOrEqual(Date.UTC(2025, 6, 10) - 60_000);
    expect(plan.replayStart).toBeLessThanOrEqual(Date.UTC(2025, 9, 1));
    expect(() => buildPlan(input(3, 10, 46))).toThrow(/46 symbols wanted/);
  });
});
