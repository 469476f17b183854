import { checkRisk } from '../core/risk.js';
import type { TradingActivities } from './contracts.js';
import type { ActivityDeps } from './deps.js';

function startOfUtcDay(now = Date.now()): Date {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/** The book-wide risk check before an entry. */
export function riskActivities({ journal, log, risk }: ActivityDeps): Pick<TradingActivities, 'checkEntryRisk'> {
  return {
    async checkEntryRisk(p) {
      const [kill, open, pnl] = await Promise.all([journal.getGlobalKill(), journal.openPositions(), journal.realizedPnlSince(startOfUtcDay())]);
      const verdict = checkRisk(p, { globalKill: kill.on, openPositions: open, realizedPnlToday: pnl }, risk());
      if (!verdict.approved) log.info({ symbol: p.symbol, rule: verdict.rule }, `Risk rejected ${p.symbol}: ${verdict.detail}`);
      return verdict;
    },
  };
}
