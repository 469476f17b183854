import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { sleep } from '../infra/sleep.js';
import { symbolWorkflowId } from '../workflows/contracts.js';
import { checkInvariants, persistent, type InvariantResult, type Snapshot } from './invariants.js';
import { takeSnapshot, withTimeout } from './observe.js';
import { FAULT_KINDS, type ChaosPlan, type FaultBurst, type FaultKind, type ProcessEvent } from './plan.js';
import { waitUntilEveryLoopTicked } from './recovery.js';
import { ProcessStack, type CommandResult } from './stack.js';

/**
 * Executes a chaos plan against a stack of real processes: starts everything, starts the fleet with the
 * real `qt start`, plays the process events one after the other (each waits until every loop ticked
 * again) while fault bursts switch on and off on their own timers, then stops the faults, lets the fleet
 * settle and checks the invariants.
 */

export interface RunOptions {
  plan: ChaosPlan;
  dir: string;
  dataDir: string;
  replaySpeed: number;
  entryProbability: number;
  /** Seconds a loop may take to tick again after a restart before it counts against the target. */
  recoveryTargetS: number;
  log: (line: string) => void;
}

export type RestartKind = 'worker-kill' | 'temporal-restart' | 'postgres-restart' | 'exchange-restart';

export interface EventRecord {
  kind: ProcessEvent['kind'];
  plannedAt: number;
  startedAt: number;
  /** Worker kills: whether an order's answer was held when the worker died. */
  orderInFlight?: boolean;
  /** Restarts: seconds from the process being back until every running loop ticked; null = not all did. */
  recoveryS?: number | null;
  silent?: string[];
  command?: CommandResult;
  error?: string;
}

export interface ChaosResult {
  plan: ChaosPlan;
  dir: string;
  startedAt: number;
  finishedAt: number;
  events: EventRecord[];
  faults: Record<FaultKind, { planned: number; applied: number }>;
  finalSnapshot: Snapshot | null;
  invariants: InvariantResult[];
  commands: { args: string[]; result: CommandResult }[];
}

/** Loop settings that make positions open and close every minute or so at replay speed. */
export function fleetSettings(plan: ChaosPlan, entryProbability: number): Record<string, string> {
  return {
    QT_SYMBOLS: plan.symbols.join(','),
    QT_SIGNAL_SOURCE: `random:${plan.seed}:${entryProbability}`,
    QT_CHECK_INTERVAL: '2',
    QT_COOLDOWN_SECONDS: '5',
    QT_POSITION_CHECK_SECONDS: '2',
    QT_MAX_HOLD_SECONDS: '60',
    QT_TAKE_PROFIT_PCT: '0.5',
    QT_STOP_LOSS_PCT: '0.4',
    QT_TRAILING_ACTIVATION_PCT: '0.3',
    QT_TRAILING_STOP_PCT: '0.15',
    // Coin flips lose the fees steadily; the run is about durability, so the loss halt stays out of the way.
    QT_DAILY_LOSS_LIMIT: '1000000',
    QT_LOG_LEVEL: 'info',
  };
}

const RECOVERY_TIMEOUT_MS = 30_000;
const HOLD_WAIT_MS = 30_000;

export async function runChaos(o: RunOptions): Promise<ChaosResult> {
  const { plan, log } = o;
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, { planned: plan.faults.filter((f) => f.kind === k).length, applied: 0 }])) as ChaosResult['faults'];
  const result: ChaosResult = { plan, dir: o.dir, startedAt: Date.now(), finishedAt: 0, events: [], faults, finalSnapshot: null, invariants: [], commands: [] };

  log(`starting Temporal, Postgres, the local exchange (replay ${o.replaySpeed}x) and the worker in ${o.dir}`);
  const stack = await ProcessStack.start({
    dir: o.dir,
    dataDir: o.dataDir,
    symbols: plan.symbols,
    replaySpeed: o.replaySpeed,
    replayStart: plan.replayStart,
    settings: fleetSettings(plan, o.entryProbability),
  });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });
  pool.on('error', () => undefined);
  const qt = async (args: string[]) => {
    const r = await stack.qt(args);
    result.commands.push({ args, result: r });
    log(`qt ${args.join(' ')} -> exit ${r.code}${r.code ? `: ${r.output.split('\n').pop()}` : ''}`);
    return r;
  };

  try {
    await qt(['start']);
    const t0 = Date.now();
    const elapsed = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
    const say = (text: string) => log(`[${elapsed()} s] ${text}`);
    const bursts = plan.faults.map((burst) => scheduleBurst(stack, burst, t0, faults, say));

    for (const event of plan.processEvents) {
      await waitUntil(t0 + event.at, stack, say);
      const record: EventRecord = { kind: event.kind, plannedAt: event.at, startedAt: Date.now() - t0 };
      try {
        await playEvent(event, record, { stack, client, pool, plan, qt, say });
      } catch (err) {
        record.error = err instanceof Error ? err.message : String(err);
        say(`${event.kind} failed: ${record.error}`);
        await stack.ensureRunning().catch((e: Error) => say(`could not bring the stack back: ${e.message}`));
      }
      result.events.push(record);
    }
    await waitUntil(t0 + plan.minutes * 60_000, stack, say);

    say('chaos over: faults off, held answers released, no new entries (qt config set QT_ENABLE_AI_TRADING=false); settling');
    for (const burst of bursts) burst.cancel();
    await stack.admin('DELETE', '/admin/faults');
    await stack.admin('POST', '/admin/release');
    await stack.reviveWorker();
    await qt(['config', 'set', 'QT_ENABLE_AI_TRADING=false']);
    const { snapshot, invariants } = await settleAndCheck(stack, client, pool, say);
    result.finalSnapshot = snapshot;
    result.invariants = [...invariants, ...runInvariants(result, stack, o.recoveryTargetS)];
  } finally {
    result.finishedAt = Date.now();
    await pool.end().catch(() => {});
    await connection.close().catch(() => {});
    await stack.stop();
  }
  return result;
}

interface EventContext {
  stack: ProcessStack;
  client: Client;
  pool: pg.Pool;
  plan: ChaosPlan;
  qt: (args: string[]) => Promise<CommandResult>;
  say: (text: string) => void;
}

async function playEvent(event: ProcessEvent, record: EventRecord, c: EventContext): Promise<void> {
  const { stack } = c;
  switch (event.kind) {
    case 'worker-kill': {
      if (event.inFlight) {
        await stack.admin('POST', '/admin/faults', { holdResponse: { count: 1, path: '/fapi/v1/order' } });
        record.orderInFlight = await orderHeld(stack);
      }
      await stack.killWorker();
      if (event.inFlight) {
        await stack.admin('POST', '/admin/release');
        // Nothing was held in time: take the switch back so it cannot catch a later order.
        if (!record.orderInFlight) await stack.admin('POST', '/admin/faults', { holdResponse: { count: 0 } });
      }
      await sleep(event.downMs);
      return recover(record, await stack.startWorker(), c, `worker SIGKILLed${event.inFlight ? (record.orderInFlight ? ' with an order in flight' : ' (no order came in time)') : ''}`);
    }
    case 'temporal-restart':
    case 'postgres-restart':
    case 'exchange-restart': {
      const server = SERVERS[event.kind];
      await server.stop(stack);
      await sleep(event.downMs);
      await server.start(stack);
      return recover(record, Date.now(), c, server.what);
    }
    case 'kill-flatten':
      record.command = await c.qt(['kill', '--flatten', '--reason', 'chaos run']);
      return;
    case 'resume':
      record.command = await c.qt(['resume']);
      return;
  }
}

/** How each server of the stack is restarted: stopped, left down a while, started on the same data. */
const SERVERS: Record<'temporal-restart' | 'postgres-restart' | 'exchange-restart', { stop(s: ProcessStack): Promise<void>; start(s: ProcessStack): Promise<void>; what: string }> = {
  'temporal-restart': { stop: (s) => s.stopTemporal(), start: (s) => s.startTemporal(), what: 'Temporal dev server restarted (same SQLite file)' },
  'postgres-restart': { stop: (s) => s.stopPostgres(), start: (s) => s.startPostgres(), what: 'Postgres restarted' },
  'exchange-restart': { stop: (s) => s.stopExchange(), start: (s) => s.startExchange(), what: 'local exchange restarted (state file kept)' },
};

/** Waits until the held-answer switch has caught an order (its count drops to 0). */
async function orderHeld(stack: ProcessStack): Promise<boolean> {
  const deadline = Date.now() + HOLD_WAIT_MS;
  while (Date.now() < deadline) {
    const f = await stack.admin<{ holdResponse?: { count: number } }>('GET', '/admin/faults');
    if ((f.holdResponse?.count ?? 0) === 0) return true;
    await sleep(100);
  }
  return false;
}

async function recover(record: EventRecord, backAt: number, c: EventContext, what: string): Promise<void> {
  const running = await runningLoops(c.client, c.plan.symbols);
  const r = await waitUntilEveryLoopTicked(c.pool, running, backAt, RECOVERY_TIMEOUT_MS);
  // A loop whose workflow failed meanwhile is counted with the failed workflows, not here.
  record.silent = r.silent.length ? await runningLoops(c.client, r.silent) : [];
  const ticks = [...r.firstTicks.values()];
  record.recoveryS = record.silent.length || ticks.length === 0 ? null : (Math.max(...ticks) - backAt) / 1000;
  const verdict = record.silent.length
    ? `${record.silent.length} loop(s) silent after ${RECOVERY_TIMEOUT_MS / 1000} s: ${record.silent.join(' ')}`
    : record.recoveryS === null
      ? 'no loop left running'
      : `every loop ticked again after ${record.recoveryS.toFixed(1)} s${running.length < c.plan.symbols.length ? ` (${running.length} of ${c.plan.symbols.length} loops still running)` : ''}`;
  c.say(`${what}; ${verdict}`);
}

/** Symbols whose loop workflow is running (a failed or terminated one never ticks again). */
async function runningLoops(client: Client, symbols: string[]): Promise<string[]> {
  const states = await Promise.all(
    symbols.map(async (s) => {
      try {
        const d = await withTimeout(client.workflow.getHandle(symbolWorkflowId(s)).describe(), 10_000);
        return d.status.name === 'RUNNING' ? s : null;
      } catch {
        return s;
      }
    }),
  );
  return states.filter((s): s is string => s !== null);
}

/** Sleeps until `at`, restarting a worker that died by itself meanwhile (a supervisor's job). */
async function waitUntil(at: number, stack: ProcessStack, say: (text: string) => void): Promise<void> {
  while (Date.now() < at) {
    if (await stack.reviveWorker().catch(() => false)) say('worker had exited by itself: restarted');
    await sleep(Math.min(500, Math.max(0, at - Date.now())));
  }
}

/**
 * Switches a burst on at its time and off at its end. While the exchange is down (a restart) the switch is
 * tried again every half second until the burst's window has passed.
 */
function scheduleBurst(stack: ProcessStack, burst: FaultBurst, t0: number, faults: ChaosResult['faults'], say: (text: string) => void): { cancel(): void } {
  const endsAt = t0 + burst.at + burst.durationMs;
  let cancelled = false;
  let retry: NodeJS.Timeout | undefined;
  const switchOn = (): void => {
    if (cancelled) return;
    stack.admin('POST', '/admin/faults', burst.on).then(
      () => {
        faults[burst.kind].applied++;
        say(`fault ${burst.kind} on for ${((endsAt - Date.now()) / 1000).toFixed(1)} s: ${JSON.stringify(burst.on)}`);
      },
      (err: Error) => {
        if (Date.now() + 500 < endsAt) retry = setTimeout(switchOn, 500);
        else say(`fault ${burst.kind} not applied (${err.message}): the exchange was down for the whole burst`);
      },
    );
  };
  const on = setTimeout(switchOn, Math.max(0, t0 + burst.at - Date.now()));
  const off = setTimeout(() => void stack.admin('POST', '/admin/faults', burst.off).catch(() => {}), Math.max(0, endsAt - Date.now()));
  return {
    cancel() {
      cancelled = true;
      for (const t of [on, off, retry]) clearTimeout(t);
    },
  };
}

const SETTLE_TIMEOUT_MS = 90_000;
const SNAPSHOT_GAP_MS = 5_000;
/**
 * How long a violation must stay before it counts. A position that watches its exits on the mark stream reads
 * the exchange once a minute (workflows/position.ts): a stop that fired on the exchange while the worker was
 * down, with no crossing seen on the stream since, is booked at that read, up to a minute after the fleet
 * settled (a 3-minute run reported such a stop fill as missing from the journal 15 s after the chaos ended).
 */
const VIOLATION_LASTS_MS = 65_000;
const MAX_SNAPSHOTS = Math.ceil(VIOLATION_LASTS_MS / SNAPSHOT_GAP_MS) + 6;

/**
 * Waits until nothing is entering, then checks snapshots seconds apart until one is clean or the same
 * violations have shown for VIOLATION_LASTS_MS (exits keep happening while the fleet settles).
 */
async function settleAndCheck(stack: ProcessStack, client: Client, pool: pg.Pool, say: (text: string) => void): Promise<{ snapshot: Snapshot; invariants: InvariantResult[] }> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let snapshot = await takeSnapshot(stack, client, pool);
  while (Date.now() < deadline && (snapshot.heldResponses > 0 || snapshot.owners.some((o) => o.stage === 'ENTERING' || o.stage === null))) {
    await sleep(2_000);
    snapshot = await takeSnapshot(stack, client, pool);
  }
  const history: { at: number; results: InvariantResult[] }[] = [];
  for (let i = 0; i < MAX_SNAPSHOTS; i++) {
    if (i > 0) {
      await sleep(SNAPSHOT_GAP_MS);
      snapshot = await takeSnapshot(stack, client, pool);
    }
    const latest = checkInvariants(snapshot);
    history.push({ at: Date.now(), results: latest });
    const open = countViolations(latest);
    say(`snapshot ${i + 1}: ${open} violation(s)`);
    if (open === 0) return { snapshot, invariants: latest };
    // Every violation of the latest snapshot was there in every snapshot of the last VIOLATION_LASTS_MS: real.
    const window = history.filter((h) => h.at >= Date.now() - VIOLATION_LASTS_MS).map((h) => h.results);
    const kept = persistent(window);
    if (history[0]!.at <= Date.now() - VIOLATION_LASTS_MS && countViolations(kept) === open) return { snapshot, invariants: kept };
  }
  return { snapshot, invariants: persistent(history.filter((h) => h.at >= Date.now() - VIOLATION_LASTS_MS).map((h) => h.results)) };
}

export const countViolations = (results: InvariantResult[]): number => results.reduce((n, r) => n + r.violations.length, 0);

/** Checks about the run itself: recovery, crashes of the worker, and the operator commands. */
function runInvariants(r: ChaosResult, stack: ProcessStack, targetS: number): InvariantResult[] {
  const restarts = r.events.filter((e) => e.recoveryS !== undefined);
  return [
    {
      name: 'loops that did not tick again within 30 s of a restart',
      violations: restarts.flatMap((e) => (e.silent ?? []).map((s) => ({ key: `${e.kind}@${e.startedAt}:${s}`, evidence: `${s} after the ${e.kind} that started at ${(e.startedAt / 1000).toFixed(1)} s` }))),
    },
    {
      name: `restarts after which the loops took over ${targetS} s to tick again`,
      violations: restarts
        .filter((e) => e.recoveryS !== null && e.recoveryS! > targetS)
        .map((e) => ({ key: `${e.kind}@${e.startedAt}`, evidence: `${e.kind} that started at ${(e.startedAt / 1000).toFixed(1)} s: ${e.recoveryS!.toFixed(1)} s` })),
    },
    {
      name: 'worker exits the harness did not cause',
      violations: stack.unexpectedWorkerExits.map((x) => ({ key: `exit@${x.at}`, evidence: `exit code ${x.code} at ${new Date(x.at).toISOString()}: ${x.lastOutput.replaceAll('\n', ' | ').slice(0, 300)}` })),
    },
    {
      name: 'events or qt commands that failed',
      violations: [
        ...r.commands.filter((c) => c.result.code !== 0).map((c) => ({ key: `qt ${c.args.join(' ')}`, evidence: `qt ${c.args.join(' ')} exited ${c.result.code}: ${c.result.output.slice(-300)}` })),
        ...r.events.filter((e) => e.error).map((e) => ({ key: `${e.kind}@${e.startedAt}`, evidence: `${e.kind} at ${(e.startedAt / 1000).toFixed(1)} s: ${e.error}` })),
      ],
    },
  ];
}
