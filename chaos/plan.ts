import { seededRandom } from '../core/random.js';

/**
 * The schedule of a chaos run, decided entirely by the seed before anything starts: which symbols, where
 * the replay starts, and when which process is killed or restarted and which exchange fault is switched
 * on. Pure, so the same seed always gives the same schedule (printed with --plan-only).
 */

export type FaultKind = '5xx' | '429' | 'lost-response' | 'late-execution' | 'clock-skew' | 'empty-position-read' | 'partial-fill' | 'http-error';
export const FAULT_KINDS: readonly FaultKind[] = ['5xx', '429', 'lost-response', 'late-execution', 'clock-skew', 'empty-position-read', 'partial-fill', 'http-error'];

/** Events that stop or restart something; they run one after the other, each waiting for the fleet to recover. */
export type ProcessEvent =
  /** SIGKILL the worker; with `inFlight`, first hold the answer of the next order so it dies mid-order. */
  | { at: number; kind: 'worker-kill'; inFlight: boolean; downMs: number }
  | { at: number; kind: 'temporal-restart'; downMs: number }
  | { at: number; kind: 'postgres-restart'; downMs: number }
  | { at: number; kind: 'exchange-restart'; downMs: number }
  | { at: number; kind: 'kill-flatten' }
  | { at: number; kind: 'resume' };

/** An exchange fault switched on at `at` and off `durationMs` later; `on` / `off` are /admin/faults bodies. */
export interface FaultBurst {
  at: number;
  kind: FaultKind;
  durationMs: number;
  on: Record<string, unknown>;
  off: Record<string, unknown>;
}

export interface ChaosPlan {
  seed: number;
  minutes: number;
  symbols: string[];
  /** Market time (ms) where the replay starts. */
  replayStart: number;
  /** Times are ms after the fleet started. */
  processEvents: ProcessEvent[];
  faults: FaultBurst[];
}

export interface PlanInput {
  seed: number;
  minutes: number;
  symbolCount: number;
  /** Symbols with data, any order. */
  available: string[];
  /** Market times where a replay of the whole run fits the data of every one of `symbols` ([from, to]). */
  replayWindowFor: (symbols: string[]) => { from: number; to: number };
}

/** Quiet time after the fleet starts (positions open) and before the run ends (last recovery). */
export const WARMUP_MS = 20_000;
const TAIL_MS = 15_000;

/** How many of each event a run of `minutes` gets; the floors are what every run must show. */
export function eventCounts(minutes: number): Record<'kills' | 'temporal' | 'postgres' | 'exchange' | 'faultsPerKind', number> {
  return {
    // 10 kills at least; a 30-minute run gets 50.
    kills: Math.max(10, Math.ceil((minutes * 5) / 3)),
    temporal: Math.max(2, Math.round(minutes / 5)),
    postgres: Math.max(1, Math.floor(minutes / 10)),
    exchange: Math.max(1, Math.floor(minutes / 10)),
    faultsPerKind: Math.max(1, Math.round(minutes / 3)),
  };
}

export function buildPlan(input: PlanInput): ChaosPlan {
  if (!(input.minutes > 0)) throw new Error('minutes must be positive');
  const random = seededRandom(input.seed);
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const int = (lo: number, hi: number) => Math.floor(between(lo, hi + 1));

  const available = [...new Set(input.available)].sort();
  if (available.length < input.symbolCount) throw new Error(`${input.symbolCount} symbols wanted, the data has ${available.length}`);
  const symbols = shuffle(available, random).slice(0, input.symbolCount).sort();
  const { from, to } = input.replayWindowFor(symbols);
  if (!(to >= from)) throw new Error('the data is too short for a replay of this length');
  // Whole minutes, so the start reads well in the summary.
  const replayStart = Math.floor(between(from, to) / 60_000) * 60_000;

  const runMs = input.minutes * 60_000;
  const windowStart = WARMUP_MS;
  const windowEnd = Math.max(windowStart + 1, runMs - TAIL_MS);
  const counts = eventCounts(input.minutes);

  // Kills with an order in flight: half of them, at least 3.
  const inFlight = Math.max(3, Math.ceil(counts.kills / 2));
  const kinds: ProcessEvent['kind'][] = [
    ...Array<ProcessEvent['kind']>(counts.kills).fill('worker-kill'),
    ...Array<ProcessEvent['kind']>(counts.temporal).fill('temporal-restart'),
    ...Array<ProcessEvent['kind']>(counts.postgres).fill('postgres-restart'),
    ...Array<ProcessEvent['kind']>(counts.exchange).fill('exchange-restart'),
    'kill-flatten',
  ];
  const order = shuffle(kinds, random);
  const killFlags = shuffle(Array.from({ length: counts.kills }, (_, i) => i < inFlight), random);
  // A jittered grid: one slot per event, the event at a random point of its slot, so events are spread
  // over the whole run yet never pile up on one instant.
  const slot = (windowEnd - windowStart) / order.length;
  const processEvents: ProcessEvent[] = order.map((kind, i): ProcessEvent => {
    const at = Math.round(windowStart + slot * (i + between(0.1, 0.9)));
    switch (kind) {
      case 'worker-kill':
        return { at, kind, inFlight: killFlags.pop()!, downMs: int(0, 3_000) };
      case 'temporal-restart':
        return { at, kind, downMs: int(1_000, 5_000) };
      case 'postgres-restart':
        return { at, kind, downMs: int(3_000, 10_000) };
      case 'exchange-restart':
        return { at, kind, downMs: int(1_000, 5_000) };
      default:
        return { at, kind: 'kill-flatten' };
    }
  });
  const flatten = processEvents.find((e) => e.kind === 'kill-flatten')!;
  processEvents.push({ at: flatten.at + int(15_000, 30_000), kind: 'resume' });
  processEvents.sort((a, b) => a.at - b.at);

  const faults: FaultBurst[] = [];
  for (const kind of FAULT_KINDS) {
    // Bursts of one kind each get their own stretch of the run, so one's "off" never cuts another short.
    const stretch = (windowEnd - windowStart) / counts.faultsPerKind;
    for (let i = 0; i < counts.faultsPerKind; i++) {
      const durationMs = int(5_000, 15_000);
      const at = Math.round(windowStart + stretch * i + between(0, Math.max(0, stretch - durationMs)));
      faults.push({ at, kind, durationMs, ...faultSwitches(kind, random) });
    }
  }
  faults.sort((a, b) => a.at - b.at);
  return { seed: input.seed, minutes: input.minutes, symbols, replayStart, processEvents, faults };
}

/** The local exchange's fault switches (exchange/README.md) for one burst of a kind, and how to undo them. */
function faultSwitches(kind: FaultKind, random: () => number): Pick<FaultBurst, 'on' | 'off'> {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  switch (kind) {
    case '5xx':
      return { on: { errorRate5xx: int(20, 50) / 100 }, off: { errorRate5xx: 0 } };
    case '429':
      return { on: { burst429: { count: int(5, 30), retryAfterSec: int(1, 3) } }, off: { burst429: { count: 0, retryAfterSec: 0 } } };
    case 'lost-response':
      // Any mutating request: entries, exits, stops, leverage changes.
      return { on: { loseResponse: { count: int(1, 3) } }, off: { loseResponse: { count: 0 } } };
    case 'late-execution':
      // The answer is lost and the order executes only later: a resend in between must not double it.
      return { on: { lateExecution: { count: int(1, 2), delayMs: int(1_000, 8_000), path: '/fapi/v1/order' } }, off: { lateExecution: { count: 0, delayMs: 0 } } };
    case 'clock-skew': {
      // Behind by more than the 1 s the exchange allows, or ahead by more than the 5 s receive window.
      const skew = random() < 0.5 ? -int(1_500, 4_000) : int(6_000, 12_000);
      return { on: { clockSkewMs: skew }, off: { clockSkewMs: 0 } };
    }
    case 'empty-position-read':
      // A position read that answers "no positions" once: flat is a fact only with evidence.
      return { on: { emptyPositionRead: { count: int(1, 3) } }, off: { emptyPositionRead: { count: 0 } } };
    case 'partial-fill': {
      const status = (['EXPIRED', 'PARTIALLY_FILLED', 'NEW'] as const)[int(0, 2)]!;
      const fraction = status === 'NEW' ? 0 : int(20, 80) / 100;
      return { on: { partialFill: { count: int(1, 2), fraction, status } }, off: { partialFill: { count: 0, fraction: 0, status: 'NEW' } } };
    }
    case 'http-error': {
      // A refusal after the fill (403 on the trades of an order), or a server error on a read or an order.
      const [path, status] = ([['/fapi/v1/userTrades', 403], ['/fapi/v3/positionRisk', 502], ['/fapi/v1/order', 500]] as const)[int(0, 2)]!;
      return { on: { httpError: { count: int(1, 3), path, status } }, off: { httpError: { count: 0, path, status } } };
    }
  }
}

/** Fisher-Yates with the run's generator. */
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** One line per event, in time order: what --plan-only prints and what a seed reproduces. */
export function describePlan(plan: ChaosPlan): string[] {
  const t = (ms: number) => `${(ms / 1000).toFixed(1).padStart(7)} s`;
  const lines = [
    `seed ${plan.seed}, ${plan.minutes} min, ${plan.symbols.length} symbols: ${plan.symbols.join(' ')}`,
    `replay from ${new Date(plan.replayStart).toISOString()}`,
  ];
  const rows: [number, string][] = [
    ...plan.processEvents.map((e): [number, string] => [e.at, `${e.kind}${'inFlight' in e && e.inFlight ? ' (order in flight)' : ''}${'downMs' in e ? `, down ${e.downMs} ms` : ''}`]),
    ...plan.faults.map((f): [number, string] => [f.at, `fault ${f.kind} for ${f.durationMs} ms: ${JSON.stringify(f.on)}`]),
  ];
  rows.sort((a, b) => a[0] - b[0]);
  for (const [at, text] of rows) lines.push(`${t(at)}  ${text}`);
  return lines;
}
