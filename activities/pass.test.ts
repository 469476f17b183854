import { describe, expect, it } from 'vitest';
import { DEFAULT_PARAMS } from '../core/params.js';
import { tick as loopTick, type LoopState } from '../core/loop.js';
import type { ScoredSignal } from '../core/types.js';
import type { EntryProposal } from '../core/risk.js';
import type { DecisionRecord, PassRequest } from './contracts.js';
import { passActivities } from './pass.js';

const NOW = Date.UTC(2026, 11, 2, 12);
const SCANNING: LoopState = { killed: false, aiTradingEnabled: true, hasOpenPosition: false, cooldownUntil: 0 };

function scored(signal: ScoredSignal['signal'], confidence: number): ScoredSignal {
  return { symbol: 'ETHUSDT', signal, confidence, probabilities: { HOLD: 1 - confidence, BUY: signal === 'BUY' ? confidence : 0, SELL: signal === 'SELL' ? confidence : 0 }, candleTime: NOW - 300_000, price: 3000, model: 'xgb-v1' };
}

const FULL = { approved: false as const, rule: 'MAX_POSITIONS', detail: '10 positions open, limit 10' };

function pass(signal: ScoredSignal, journal: (records: DecisionRecord[]) => Promise<void> = async () => {}, refusal: typeof FULL | null = null) {
  const written: DecisionRecord[] = [];
  const calls: string[] = [];
  const asked: EntryProposal[] = [];
  const acts = passActivities({
    readClock: async () => (calls.push('clock'), NOW),
    evaluateSignal: async () => (calls.push('signal'), signal),
    journalDecisions: async ({ records }) => {
      calls.push('journal');
      await journal(records);
      written.push(...records);
    },
  }, async (p) => (asked.push(p), refusal));
  return { acts, written, calls, asked };
}

const request = (loop: LoopState = SCANNING): PassRequest => ({
  symbol: 'ETHUSDT',
  dueAt: NOW - 20,
  loop,
  params: DEFAULT_PARAMS,
  record: { workflowId: 'qt-symbol-ETHUSDT', symbol: 'ETHUSDT', seq: 7, instanceId: 'abcd1234', runId: 'run-1', taskEvent: 42 },
});

describe('a quiet pass in one activity', () => {
  it('reads the clock first, scores, and journals the decision the loop takes on the same inputs', async () => {
    const { acts, written, calls } = pass(scored('HOLD', 0.8));
    const result = await acts.evaluatePass(request());
    expect(calls).toEqual(['clock', 'signal', 'journal']);
    expect(result).toEqual({ now: NOW, signal: scored('HOLD', 0.8), journaled: true });
    const expected = loopTick(SCANNING, { signal: scored('HOLD', 0.8), params: DEFAULT_PARAMS }, NOW).commands[0]!;
    expect(expected.kind).toBe('JOURNAL_DECISION');
    expect(written).toEqual([{ ...request().record, signal: scored('HOLD', 0.8), decision: (expected as { outcome: string }).outcome, reason: (expected as { reason: string }).reason, at: NOW }]);
  });

  it('decides on the loop it was given: in cooldown a strong signal is journaled, not entered', async () => {
    const { acts, written } = pass(scored('BUY', 0.9));
    const result = await acts.evaluatePass(request({ ...SCANNING, cooldownUntil: NOW + 60_000 }));
    expect(result.journaled).toBe(true);
    expect(written[0]!.decision).toBe('COOLDOWN');
  });

  it('leaves an entry to the workflow: nothing journaled', async () => {
    const { acts, written, calls } = pass(scored('BUY', 0.9));
    expect(await acts.evaluatePass(request())).toMatchObject({ journaled: false });
    expect(written).toEqual([]);
    expect(calls).toEqual(['clock', 'signal']);
  });

  it('reports a journal that did not answer instead of failing the pass', async () => {
    const { acts } = pass(scored('HOLD', 0.8), async () => {
      throw new Error('connection refused');
    });
    expect(await acts.evaluatePass(request())).toMatchObject({ now: NOW, journaled: false });
  });

  it('fails the pass when the signal cannot be scored (the loop holds and retries next interval)', async () => {
    const acts = passActivities({
      readClock: async () => NOW,
      evaluateSignal: async () => {
        throw new Error('no market data');
      },
      journalDecisions: async () => {},
    });
    await expect(acts.evaluatePass(request())).rejects.toThrow('no market data');
  });

  it('refuses an entry the risk book\'s copy refuses, journaled as the book would, when the loop asks for it', async () => {
    const { acts, written, asked } = pass(scored('BUY', 0.9), undefined, FULL);
    const result = await acts.evaluatePass({ ...request(), refuseFromBookCopy: true });
    expect(result).toMatchObject({ journaled: true, refused: FULL });
    expect(asked).toEqual([{ symbol: 'ETHUSDT', notional: expect.any(Number), leverage: DEFAULT_PARAMS.leverage }]);
    expect(asked[0]!.notional).toBeGreaterThan(0);
    expect(written.map((r) => [r.decision, r.reason])).toEqual([['RISK_REJECTED', 'MAX_POSITIONS: 10 positions open, limit 10']]);
  });

  it('leaves the entry to the book when the copy lets it through, and never asks for loops that did not opt in', async () => {
    const open = pass(scored('BUY', 0.9));
    expect(await open.acts.evaluatePass({ ...request(), refuseFromBookCopy: true })).toEqual({ now: NOW, signal: scored('BUY', 0.9), journaled: false });
    expect(open.written).toEqual([]);
    const old = pass(scored('BUY', 0.9), undefined, FULL);
    expect(await old.acts.evaluatePass(request())).toEqual({ now: NOW, signal: scored('BUY', 0.9), journaled: false });
    expect(old.asked).toEqual([]);
    expect(old.written).toEqual([]);
  });

  it('keeps a copy refusal the journal did not take for the workflow to write', async () => {
    const { acts } = pass(scored('SELL', 0.9), async () => {
      throw new Error('connection refused');
    }, FULL);
    expect(await acts.evaluatePass({ ...request(), refuseFromBookCopy: true })).toMatchObject({ journaled: false, refused: FULL });
  });
});
