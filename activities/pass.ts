import { tick as loopTick } from '../core/loop.js';
import type { TradingActivities } from './contracts.js';

/**
 * A quiet pass of a symbol loop as one local activity: read the clock, score the signal, take the loop's decision
 * (core/loop.ts, on what the loop knew when the pass began) and journal it unless it is an entry.
 *
 * Why: a quiet pass used to be three local activities (clock, signal, journal), each a marker in history and a
 * round trip through the workflow; a fleet spends most of its passes this way. The workflow takes the same decision
 * from the same inputs again (a pure function), so both agree on what was journaled.
 */
export function passActivities(acts: Pick<TradingActivities, 'readClock' | 'evaluateSignal' | 'journalDecisions'>): Pick<TradingActivities, 'evaluatePass'> {
  return {
    async evaluatePass({ symbol, dueAt, loop, params, record }) {
      const now = await acts.readClock();
      const signal = await acts.evaluateSignal({ workflowId: record.workflowId, symbol, dueAt });
      const command = loopTick(loop, { signal, params }, now).commands[0]!;
      if (command.kind !== 'JOURNAL_DECISION') return { now, signal, journaled: false };
      try {
        await acts.journalDecisions({ records: [{ ...record, signal, decision: command.outcome, reason: command.reason, at: now }], dropped: 0 });
        return { now, signal, journaled: true };
      } catch {
        // The journal did not answer: the workflow keeps the row and writes it with the next ones.
        return { now, signal, journaled: false };
      }
    },
  };
}
