import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { AppConfig } from '../core/config.js';
import { WARMUP_CANDLES } from '../core/features.js';
import { judgeCandidate, type GateEvidence } from '../core/promotion-gate.js';
import { downloadKlines } from '../exchange/download.js';
import type { FuturesExchange } from '../exchange/types.js';
import { checkCard, loadModel, readCard, type ModelCard } from '../ml/model.js';
import { checkParity, PARITY_TOLERANCE } from '../ml/model-provider.js';
import { PROJECT_ROOT, pythonPath } from '../ml/python.js';
import { codeVersion, ModelRegistry } from '../ml/registry.js';
import type { PreparedData, RetrainActivities, RetrainResult, TrainedCandidate } from '../workflows/retrain-contracts.js';

const ROOT = PROJECT_ROOT;
const DAY_MS = 86_400_000;
const INTERVAL = '5m';
const INTERVAL_MS = 300_000;

export interface RetrainDeps {
  config: AppConfig;
  pool: pg.Pool;
  exchange: FuturesExchange;
  log: Logger;
}

/**
 * The learning loop's side effects. Every stage writes into the candidate's work directory
 * (`<model store>/work/<candidate>`) and skips itself when its output is there, so an activity retried
 * after a worker crash resumes instead of starting over; the registry row is keyed by the workflow.
 */
export function retrainActivities(d: RetrainDeps): RetrainActivities {
  const registry = new ModelRegistry(d.pool);
  const store = resolve(d.config.modelStoreDir);
  const workOf = (candidate: string) => join(store, 'work', candidate);

  return {
    async prepareRetrainData({ candidate }) {
      const work = workOf(candidate);
      const done = join(work, 'data.json');
      if (existsSync(done)) return JSON.parse(readFileSync(done, 'utf8')) as PreparedData;
      mkdirSync(work, { recursive: true });
      const symbols = d.config.retrain.symbols;
      // The venue's clock: the replay clock on the paper exchange (never past it), the exchange's time live.
      const dataEnd = Math.floor((await d.exchange.venueTime(d.config.symbols[0]!)) / INTERVAL_MS) * INTERVAL_MS;
      const windowStart = dataEnd - d.config.retrain.windowDays * DAY_MS;
      const dataDir = await marketData(d.config, work, symbols, windowStart, dataEnd);
      const available = symbols.filter((s) => hasKlines(dataDir, s));
      if (available.length === 0) throw new Error(`no kline files for ${symbols.join(',')} in ${dataDir}`);
      const dataset = join(work, 'dataset.json');
      // In a child process: building features and labels takes seconds to a minute of CPU, which would
      // stall this worker's symbol loops if it ran on its event loop.
      await runWithHeartbeats(process.execPath, ['--import', 'tsx', join(ROOT, 'client', 'main.ts'), 'dataset', 'build', '--data', dataDir,
        '--symbols', available.join(','), '--from', String(windowStart), '--to', String(dataEnd), '--out', dataset], d.log.child({ candidate }), { stage: 'dataset' });
      const ds = JSON.parse(readFileSync(dataset, 'utf8')) as { rows: number; symbols: string[] };
      if (ds.rows === 0) throw new Error(`no labelled rows between ${new Date(windowStart).toISOString()} and ${new Date(dataEnd).toISOString()}`);
      const outcomes = join(work, 'outcomes.json');
      const own = await ownOutcomes(d.pool, windowStart, dataEnd);
      writeFileSync(outcomes, JSON.stringify(own));
      writeFileSync(join(work, 'window.json'), JSON.stringify({ from: new Date(windowStart).toISOString(), to: new Date(dataEnd).toISOString(), dataDir, symbols: ds.symbols }));
      const prepared: PreparedData = { dataset, outcomes, rows: ds.rows, symbols: ds.symbols, ownTrades: own.length, dataEnd, windowStart };
      writeFileSync(done, JSON.stringify(prepared));
      return prepared;
    },

    async trainCandidate({ candidate, data, shuffleLabels }) {
      const work = workOf(candidate);
      const dir = join(store, candidate);
      const active = await registry.active();
      if (!active) throw new Error('the registry has no ACTIVE model to compare the candidate with');
      const r = d.config.retrain;
      const args = [join(ROOT, 'models', 'training', 'retrain.py'), '--work', work, '--dataset', data.dataset, '--outcomes', data.outcomes,
        '--out', dir, '--active-dir', resolve(active.dir), '--folds', String(r.folds), '--trees', String(r.trees), '--max-rows', String(r.maxRows),
        '--threshold', String(d.config.params.confidenceThreshold), '--meta-min-trades', String(r.metaMinTrades)];
      if (shuffleLabels) args.push('--shuffle-labels');
      await runWithHeartbeats(pythonPath(), args, d.log.child({ candidate }));
      return { dir, evidence: join(work, 'evidence.json') };
    },

    async gateCandidate({ candidate, workflowId, trained }) {
      const existing = await registry.byCandidateOf(workflowId);
      if (existing && existing.status !== 'CANDIDATE') return resultOf(existing.version, existing.status, existing.reason, await registry.active());
      const card = JSON.parse(readFileSync(join(trained.dir, 'card.json'), 'utf8')) as ModelCard;
      const evidence = await gatherEvidence(trained, card);
      const verdict = judgeCandidate(evidence, { minTrades: d.config.retrain.minTrades, parityTolerance: PARITY_TOLERANCE });
      // The card says whether the model passed the gate: that is what the live guard reads.
      writeFileSync(join(trained.dir, 'card.json'), JSON.stringify({ ...card, promotable: verdict.promote, gate: { ...verdict, evidence } }, null, 2));
      await registry.addCandidate({ version: candidate, dir: trained.dir, card: readCard(trained.dir), codeVersion: codeVersion(ROOT), candidateOf: workflowId });
      await registry.recordEvidence(candidate, { gate: evidence, reasons: verdict.reasons });
      if (!verdict.promote) {
        const reason = verdict.reasons.join('; ');
        await registry.reject(candidate, reason);
        d.log.info({ candidate, reason }, 'candidate REJECTED by the promotion gate');
        return resultOf(candidate, 'REJECTED', reason, await registry.active());
      }
      const guard = { liveTrading: d.config.venue === 'live', allowUnproven: d.config.allowUnprovenModel };
      await registry.promote(candidate, `gate (${workflowId})`, 'passed the promotion gate', guard);
      d.log.info({ candidate }, 'candidate PROMOTED: workers switch to it at their next registry read');
      return resultOf(candidate, 'ACTIVE', 'passed the promotion gate', await registry.active());
    },
  };
}

function resultOf(candidate: string, status: string, reason: string | null, active: { version: string } | null): RetrainResult {
  return { candidate, outcome: status === 'REJECTED' ? 'REJECTED' : 'PROMOTED', reason: reason ?? '', active: active?.version ?? null };
}

/** The Python evidence plus the checks made here, in the worker that would run the model. */
async function gatherEvidence(trained: TrainedCandidate, card: ModelCard): Promise<GateEvidence> {
  const py = JSON.parse(readFileSync(trained.evidence, 'utf8')) as {
    candidate: GateEvidence['candidate']; active: GateEvidence['active']; baselines: GateEvidence['baselines']; control: GateEvidence['control'];
  };
  let featureListProblem: string | null = null;
  try {
    checkCard(trained.dir, card);
  } catch (e) {
    featureListProblem = (e as Error).message;
  }
  let parityMaxDiff: number | null = null;
  if (!featureListProblem) {
    const model = await loadModel(trained.dir);
    try {
      const parity = await checkParity(model).catch(() => null);
      parityMaxDiff = parity && 'maxDiff' in parity ? parity.maxDiff : null;
    } finally {
      await model.close();
    }
  }
  return { shuffledLabels: card.shuffledLabels === true, featureListProblem, parityMaxDiff, candidate: py.candidate, active: py.active, baselines: py.baselines, control: py.control };
}

/** Market data for the window: the replay files in paper replay, klines downloaded from the venue otherwise. */
async function marketData(config: AppConfig, work: string, symbols: string[], from: number, to: number): Promise<string> {
  if (config.venue === 'paper' && config.marketData === 'replay' && config.replayDir) return config.replayDir;
  const out = join(work, 'klines');
  if (!existsSync(join(out, '.complete'))) {
    // Warm-up candles before the window, so its first rows have features.
    await downloadKlines({ symbols, interval: INTERVAL, from: from - (WARMUP_CANDLES + 12) * INTERVAL_MS, to, outDir: out });
    writeFileSync(join(out, '.complete'), '');
  }
  return out;
}

const hasKlines = (dir: string, symbol: string): boolean => readdirSync(dir).some((f) => f === `${symbol}.csv` || f === `${symbol}.csv.gz`);

interface OwnOutcome {
  symbol: string;
  side: 'LONG' | 'SHORT';
  model: string;
  candleTime: number;
  /** Realized net P&L after both fees over the entry notional. */
  netReturn: number;
}

/** The agent's closed positions entered inside the window, with the model and candle of their entry signal. */
async function ownOutcomes(pool: pg.Pool, from: number, to: number): Promise<OwnOutcome[]> {
  const r = await pool.query<{ symbol: string; side: 'LONG' | 'SHORT'; model: string; candleTime: Date; netReturn: number }>(
    `SELECT symbol, side, model_version AS model, entry_candle_time AS "candleTime", net_pnl / (quantity * entry_price) AS "netReturn"
     FROM positions
     WHERE status = 'CLOSED' AND model_version IS NOT NULL AND entry_candle_time >= $1 AND entry_candle_time < $2 AND quantity > 0
     ORDER BY entry_candle_time`,
    [new Date(from), new Date(to)],
  );
  return r.rows.map((row) => ({ ...row, candleTime: row.candleTime.getTime(), netReturn: Number(row.netReturn) }));
}

/**
 * Runs a child (the trainer, the dataset build), heartbeating every second with its latest JSON progress
 * line; a cancelled activity kills it. The trainer also dies with this process (models/training/retrain.py).
 */
function runWithHeartbeats(command: string, args: string[], log: Logger, first: unknown = { stage: 'starting' }): Promise<void> {
  const ctx = Context.current();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Below the trading work on a shared machine.
    if (child.pid) {
      try {
        setPriority(child.pid, 15);
      } catch {
        // Not permitted here: it runs at the worker's priority.
      }
    }
    let last: unknown = first;
    let stderr = '';
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        try {
          last = JSON.parse(line);
          log.debug(last as object, 'training progress');
        } catch {
          // Not a progress line (a library's warning): ignored.
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    const beat = setInterval(() => ctx.heartbeat(last), 1_000);
    ctx.heartbeat(last);
    const cancelled = ctx.cancelled.catch((err: unknown) => {
      child.kill('SIGKILL');
      reject(err);
    });
    void cancelled;
    child.on('error', (err) => {
      clearInterval(beat);
      reject(err);
    });
    child.on('exit', (code, sig) => {
      clearInterval(beat);
      if (code === 0) resolvePromise();
      else reject(new Error(`${command === process.execPath ? 'dataset build' : 'trainer'} exited with ${code ?? sig}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
