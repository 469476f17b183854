import { percentile } from '../bench/stats.js';
import { parseClientId, pnlFigures } from './invariants.js';
import { FAULT_KINDS } from './plan.js';
import { countViolations, type ChaosResult, type RestartKind } from './run.js';

/** The figures of a finished run: what the summary table prints and summary.json keeps. */
export interface ChaosSummary {
  seed: number;
  minutes: number;
  symbols: string[];
  replayStart: string;
  wallSeconds: number;
  events: {
    workerKills: number;
    workerKillsWithOrderInFlight: number;
    temporalRestarts: number;
    postgresRestarts: number;
    exchangeRestarts: number;
    killFlatten: number;
    resume: number;
  };
  faults: ChaosResult['faults'];
  activity: { orders: number; entryOrders: number; exitOrders: number; stopTriggeredOrders: number; algoOrders: number; fills: number; positions: number; openAtEnd: number };
  pnl: { journal: number; exchange: number } | null;
  /** Seconds until every loop ticked again, measured from the journal's signals rows. */
  recovery: Record<RestartKind | 'all', { n: number; p50: number; p99: number; max: number }>;
  invariants: { name: string; count: number; evidence: string[] }[];
  violations: number;
}

const RESTART_KINDS: RestartKind[] = ['worker-kill', 'temporal-restart', 'postgres-restart', 'exchange-restart'];

export function summarize(r: ChaosResult): ChaosSummary {
  const count = (kind: string) => r.events.filter((e) => e.kind === kind).length;
  const stats = (samples: number[]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return { n: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
  };
  const recoveries = (kinds: string[]) => r.events.filter((e) => kinds.includes(e.kind) && typeof e.recoveryS === 'number').map((e) => e.recoveryS!);
  const s = r.finalSnapshot;
  const roles = (s?.exchange.orders ?? []).map((o) => parseClientId(o.clientOrderId)?.role ?? (o.clientOrderId.startsWith('algo-') ? 'stop' : 'other'));
  return {
    seed: r.plan.seed,
    minutes: r.plan.minutes,
    symbols: r.plan.symbols,
    replayStart: new Date(r.plan.replayStart).toISOString(),
    wallSeconds: Math.round((r.finishedAt - r.startedAt) / 1000),
    events: {
      workerKills: count('worker-kill'),
      workerKillsWithOrderInFlight: r.events.filter((e) => e.orderInFlight).length,
      temporalRestarts: count('temporal-restart'),
      postgresRestarts: count('postgres-restart'),
      exchangeRestarts: count('exchange-restart'),
      killFlatten: count('kill-flatten'),
      resume: count('resume'),
    },
    faults: r.faults,
    activity: {
      orders: roles.length,
      entryOrders: roles.filter((x) => x === 'E').length,
      exitOrders: roles.filter((x) => x === 'X').length,
      stopTriggeredOrders: roles.filter((x) => x === 'stop').length,
      algoOrders: s?.exchange.algoOrders.length ?? 0,
      fills: s?.exchange.fills.length ?? 0,
      positions: s?.journal.positions.length ?? 0,
      openAtEnd: Object.values(s?.exchange.positions ?? {}).filter((amt) => amt !== 0).length,
    },
    pnl: s ? pnlFigures(s) : null,
    recovery: Object.fromEntries([...RESTART_KINDS.map((k) => [k, stats(recoveries([k]))]), ['all', stats(recoveries(RESTART_KINDS))]]) as ChaosSummary['recovery'],
    invariants: r.invariants.map((i) => ({ name: i.name, count: i.violations.length, evidence: i.violations.map((v) => v.evidence) })),
    violations: countViolations(r.invariants),
  };
}

/** The summary table printed at the end of a run. */
export function formatSummary(s: ChaosSummary, dir: string): string {
  const sec = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} s` : '-');
  const e = s.events;
  const lines = [
    '',
    `chaos run: seed ${s.seed}, ${s.minutes} min, ${s.symbols.length} symbols (${s.symbols.join(' ')}), replay from ${s.replayStart}, ${s.wallSeconds} s wall`,
    '',
    row('worker SIGKILLs', `${e.workerKills} (${e.workerKillsWithOrderInFlight} with an order in flight)`),
    row('restarts', `Temporal ${e.temporalRestarts}, Postgres ${e.postgresRestarts}, exchange ${e.exchangeRestarts}`),
    row('qt kill --flatten / resume', `${e.killFlatten} / ${e.resume}`),
    row('faults injected', FAULT_KINDS.map((k) => `${k} ${s.faults[k].applied}/${s.faults[k].planned}`).join(', ')),
    row('exchange orders', `${s.activity.orders} (entries ${s.activity.entryOrders}, exits ${s.activity.exitOrders}, stops triggered ${s.activity.stopTriggeredOrders}), algo orders ${s.activity.algoOrders}`),
    row('fills / positions', `${s.activity.fills} fills, ${s.activity.positions} positions journaled, ${s.activity.openAtEnd} open at the end`),
    row('net P&L', s.pnl ? `journal ${s.pnl.journal.toFixed(4)}, exchange ${s.pnl.exchange.toFixed(4)}` : '-'),
    '',
    'recovery (every loop ticked again, from the journal)   n    p50      p99      max',
  ];
  for (const [kind, r] of Object.entries(s.recovery)) {
    lines.push(`  ${kind.padEnd(52)} ${String(r.n).padStart(3)}  ${sec(r.p50).padStart(7)}  ${sec(r.p99).padStart(7)}  ${sec(r.max).padStart(7)}`);
  }
  lines.push('', 'invariants                                                          violations');
  for (const inv of s.invariants) {
    lines.push(`  ${inv.name.padEnd(66)} ${String(inv.count).padStart(3)}`);
    for (const ev of inv.evidence.slice(0, 10)) lines.push(`      ${ev}`);
    if (inv.evidence.length > 10) lines.push(`      ... ${inv.evidence.length - 10} more in ${dir}/summary.json`);
  }
  lines.push('', s.violations === 0 ? 'PASS: no violations' : `FAIL: ${s.violations} violation(s); logs and state in ${dir}`);
  return lines.join('\n');
}

const row = (label: string, value: string) => `  ${label.padEnd(28)} ${value}`;
