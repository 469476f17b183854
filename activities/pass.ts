import { tick as loopTick } from '../core/loop.js';
import type { EntryProposal } from '../core/risk.js';
import type { Refusal } from './book-copy.js';
import type { DecisionRecord, TradingActivities } from './contracts.js';

/**
 * A quiet pass of a symbol loop as one local activity: read the clock, score the signal, take the loop's decision
 * (core/loop.ts, on what the loop knew when the pass began) and journal it unless it is an entry.
 *
 * Why: a quiet pass used to be three local activities (clock, signal, journal), each a marker in history and a
 * round trip through the workflow; a fleet spends most of its passes this way. The workflow takes the same decision
 * from the same inputs again (a pure function), so both agree on what was journaled.
 */
export function passActivities(
  acts: Pick<TradingActivities, 'readClock' | 'evaluateSignal' | 'journalDecisions'>,
  /** The refusal the risk book's published copy shows for an entry (activities/book-copy.ts), or null. */
  bookRefusal: (p: EntryProposal) => Promise<Refusal | null> = async () => null,
): Pick<TradingActivities, 'evaluatePass'> {
  const journal = async (row: DecisionRecord): Promise<boolean> => {
    try {
      await acts.journalDecisions({ records: [row], dropped: 0 });
      return true;
    } catch {
      // The journal did not answer: the workflow keeps the row and writes it with the next ones.
      return false;
    }
  };
  return {
    async evaluatePass({ symbol, dueAt, loop, params, record, refuseFromBookCopy }) {
      const now = await acts.readClock();
      const signal = await acts.evaluateSignal({ workflowId: record.workflowId, symbol, dueAt });
      const command = loopTick(loop, { signal, params }, now).commands[0]!;
      if (command.kind === 'JOURNAL_DECISION') {
        return { now, signal, journaled: await journal({ ...record, signal, decision: command.outcome, reason: command.reason, at: now }) };
      }
      // An entry: the book's copy may already show it refused (the book is full); otherwise the workflow asks the book.
      const refused = refuseFromBookCopy ? await bookRefusal({ symbol, notional: command.notional, leverage: params.leverage }) : null;
      if (!refused) return { now, signal, journaled: false };
      const journaled = await journal({ ...record, signal, decision: 'RISK_REJECTED', reason: `${refused.rule}: ${refused.detail}`, at: now });
      return { now, signal, journaled, refused };
    },
  };
}
