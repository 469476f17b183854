import { exitWatchActivities } from './exit-watch.js';
import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';
import { clockActivities } from './clock.js';
import { entryActivities } from './entry.js';
import { exitActivities } from './exit.js';
import { flattenActivities } from './flatten.js';
import { journalActivities } from './journal.js';
import { AccountReader } from './account-reader.js';
import { positionJournalActivities } from './position-journal.js';
import { positionOrderActivities } from './position-orders.js';
import { positionWatchActivities } from './position-watch.js';
import { ownershipActivities } from './ownership.js';
import { protectiveStopActivities } from './protective-stop.js';
import { reconcileActivities } from './reconcile.js';
import { riskActivities } from './risk.js';
import { createSettlement } from './settlement.js';
import { passActivities } from './pass.js';
import { BookCopy } from './book-copy.js';
import { riskBookWorkflowId } from '../workflows/book-contracts.js';
import { signalActivities } from './signal.js';

export type { ActivityDeps } from './deps.js';

/** Every side effect the workflows need, bound to real adapters; one file per concern. */
export function createActivities(deps: ActivityDeps): TradingActivities {
  const settlement = createSettlement(deps);
  const signal = signalActivities(deps);
  const journal = journalActivities(deps);
  const clock = clockActivities();
  const bookCopy = new BookCopy(deps.temporal.client, riskBookWorkflowId(deps.temporal.taskQueue), deps.log);
  return {
    ...clock,
    ...signal,
    ...journal,
    ...passActivities({ ...clock, ...signal, ...journal }, (p) => bookCopy.refusal(p, deps.risk())),
    ...riskActivities(deps, bookCopy),
    ...entryActivities(deps, settlement),
    ...protectiveStopActivities(deps, settlement),
    ...exitActivities(deps, settlement),
    ...positionOrderActivities(deps),
    ...positionWatchActivities(deps, new AccountReader(deps.exchange, deps.accountReadMaxAgeMs)),
    ...positionJournalActivities(deps),
    ...exitWatchActivities(deps),
    ...ownershipActivities(deps),
    ...flattenActivities(deps, settlement),
    ...reconcileActivities(deps, settlement),
  };
}
