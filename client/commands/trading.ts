import { Option, type Command } from 'commander';
import type { Client } from '@temporalio/client';
import { ConfigError, type AppConfig } from '../../core/config.js';
import { Journal } from '../../journal/index.js';
import { closePositionSignal, configUpdate, positionStateQuery, positionWorkflowId, type ConfigChange } from '../../workflows/contracts.js';
import { connectClient, ensureFleet, querySymbol, runningSymbols, symbolHandle } from '../fleet.js';
import { mapLimit } from '../../core/map-limit.js';
import { duration, paramName, positiveInteger, splitAssignment, symbol as symbolArg, symbolList } from '../arguments.js';
import { table } from '../format.js';
import { formatPnlReport } from '../pnl.js';
import { databaseUrl, temporalAddress } from '../runtime-file.js';
import { DEFAULT_PARAMS, applyParamChanges, type TradingParams } from '../../core/params.js';
import { describeParams, loadStrategy, strategyParams, withStrategyExits } from '../../strategies/index.js';
import { activeModelLine, ensureRetrainSchedule } from '../models.js';

export async function withClient<T>(config: AppConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(temporalAddress(), config.temporalNamespace);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

async function withJournal<T>(fn: (j: Journal) => Promise<T>): Promise<T> {
  const journal = await Journal.connect(databaseUrl());
  try {
    return await fn(journal);
  } finally {
    await journal.close();
  }
}

/** Symbols a command acts on: the one given, else every running symbol workflow. */
async function targets(client: Client, symbol: string | undefined): Promise<string[]> {
  return symbol ? [symbol] : runningSymbols(client);
}

const print = (json: boolean, value: unknown, text: () => string) => console.log(json ? JSON.stringify(value, null, 2) : text());

/** Map `qt config set` keys (param names or their QT_ variables) to workflow config changes. */
export function parseConfigAssignments(pairs: string[]): ConfigChange {
  const change: ConfigChange = { params: {}, flags: {} };
  for (const pair of pairs) {
    const [key, value] = splitAssignment(pair);
    if (key === 'QT_ENABLE_AI_TRADING' || key === 'aiTradingEnabled') change.flags!.aiTradingEnabled = parseBool(key, value);
    else if (key === 'QT_ENABLE_EXECUTION' || key === 'executionEnabled') change.flags!.executionEnabled = parseBool(key, value);
    else change.params![paramName(key) as keyof TradingParams] = value;
  }
  // Each value against its bounds here already, so a typo is a usage error rather than a refused update.
  applyParamChanges(DEFAULT_PARAMS, change.params!);
  return change;
}

function parseBool(key: string, v: string): boolean {
  if (/^(true|1|yes|on)$/i.test(v)) return true;
  if (/^(false|0|no|off)$/i.test(v)) return false;
  throw new ConfigError(key, `expected true or false, got "${v}"`);
}

export function registerTradingCommands(program: Command, config: () => AppConfig): void {
  program
    .command('start')
    .description('ensure one symbol workflow per configured symbol (idempotent)')
    .option('--symbols <list>', 'comma-separated symbols (default QT_SYMBOLS)', symbolList)
    .action(async (o: { symbols?: string[] }) => {
      const cfg = config();
      await withClient(cfg, async (c) => {
        const { started, running } = await ensureFleet(c, cfg, o.symbols ?? cfg.symbols);
        console.log(`started ${started.length} symbol workflow(s)${started.length ? `: ${started.join(' ')}` : ''}; ${running.length} already running`);
        console.log(`retrain schedule ${await ensureRetrainSchedule(c, cfg)}: ${cfg.retrain.schedule} (UTC)`);
      });
    });

  program
    .command('status')
    .description('state of every symbol workflow')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const cfg = config();
      await withClient(cfg, async (c) => {
        const symbols = await runningSymbols(c);
        const states = await mapLimit(symbols, 16, (s) => querySymbol(c, s).catch((e: Error) => ({ symbol: s, error: e.message })));
        const model = o.json ? '' : await activeModelLine();
        print(!!o.json, states, () => `${model}\n` +
          table(
            states.map((s) =>
              'error' in s
                ? { symbol: s.symbol, phase: 'UNREACHABLE', signal: s.error }
                : {
                    symbol: s.symbol,
                    phase: s.phase,
                    signal: s.lastSignal ? `${s.lastSignal.signal} ${s.lastSignal.confidence.toFixed(2)}` : null,
                    decision: s.lastDecision,
                    position: s.openPositionId,
                    cooldownUntil: s.cooldownUntil > Date.now() ? new Date(s.cooldownUntil).toISOString() : null,
                    killed: s.killed ? (s.killReason ?? 'yes') : null,
                  },
            ),
          ),
        );
      });
    });

  program
    .command('positions')
    .description('positions from the journal')
    .option('--all', 'include closed positions')
    .option('--limit <n>', 'rows', positiveInteger, 50)
    .option('--json', 'machine-readable output')
    .action(async (o: { all?: boolean; limit: number; json?: boolean }) => {
      const rows = await withJournal((j) => j.positions({ status: o.all ? 'all' : 'open', limit: o.limit }));
      print(!!o.json, rows, () =>
        table(
          rows.map((r) => ({ opened: r.openedAt, symbol: r.symbol, side: r.side, status: r.status, qty: r.quantity, entry: r.entryPrice, stop: r.stopPrice, exit: r.exitPrice, reason: r.exitReason, netPnl: r.netPnl, id: r.positionId })),
        ),
      );
    });

  program
    .command('close')
    .description('close the open position of a symbol at market')
    .requiredOption('--symbol <symbol>', 'symbol', symbolArg)
    .action(async (o: { symbol: string }) => {
      const cfg = config();
      const symbol = o.symbol;
      await withClient(cfg, async (c) => {
        const state = await querySymbol(c, symbol!);
        if (!state.openPositionId) throw new Error(`${symbol} has no open position`);
        const handle = c.workflow.getHandle(positionWorkflowId(state.openPositionId));
        await handle.signal(closePositionSignal, { reason: 'MANUAL' });
        const p = await handle.query(positionStateQuery);
        console.log(`close requested for ${state.openPositionId} (${p.side} ${p.state.quantity} @ ${p.state.entryPrice})`);
      });
    });

  const cfgCmd = program.command('config').description('show or change the trading configuration');
  cfgCmd
    .command('get')
    .description('print the effective configuration (and each running symbol\'s live parameters with --symbol)')
    .option('--symbol <symbol>', 'live parameters of this symbol workflow', symbolArg)
    .option('--json', 'machine-readable output')
    .action(async (o: { symbol?: string; json?: boolean }) => {
      const cfg = config();
      if (!o.symbol) {
        const strategy = await loadStrategy(cfg.strategy);
        const shown = { ...cfg, params: withStrategyExits(cfg.params, strategy, process.env), strategyParams: strategyParams(strategy, process.env), strategyParamTable: describeParams(strategy) };
        return print(!!o.json, shown, () => JSON.stringify(shown, null, 2));
      }
      await withClient(cfg, async (c) => {
        const s = await querySymbol(c, o.symbol!);
        print(!!o.json, { params: s.params, flags: s.flags }, () => JSON.stringify({ params: s.params, flags: s.flags }, null, 2));
      });
    });
  cfgCmd
    .command('set')
    .description('change parameters at runtime, e.g. `qt config set QT_CONFIDENCE_THRESHOLD=0.6 stopLossPct=0.8`')
    .argument('<assignments...>', 'KEY=VALUE pairs (QT_ variable or parameter name)')
    .option('--symbol <symbol>', 'only this symbol', symbolArg)
    .action(async (pairs: string[], o: { symbol?: string }, cmd: Command) => {
      let change: ConfigChange;
      try {
        change = parseConfigAssignments(pairs);
      } catch (e) {
        cmd.error(`error: ${(e as Error).message}`);
      }
      const cfg = config();
      await withClient(cfg, async (c) => {
        const symbols = await targets(c, o.symbol);
        await mapLimit(symbols, 8, (s) =>
          symbolHandle(c, s)
            .executeUpdate(configUpdate, { args: [change] })
            .catch((e: Error & { cause?: Error }) => {
              // The workflow's validator explains a rejected value in the cause.
              throw new Error(`${s}: ${e.cause?.message ?? e.message}`);
            }),
        );
        console.log(`configuration updated on ${symbols.length} symbol workflow(s)`);
      });
    });

  program
    .command('signals')
    .description('signals and decisions journaled recently')
    .addOption(new Option('--since <duration>', 'e.g. 5m, 1h').argParser(duration).default(5 * 60_000, '5m'))
    .option('--symbol <symbol>', 'only this symbol', symbolArg)
    .option('--json', 'machine-readable output')
    .action(async (o: { since: number; symbol?: string; json?: boolean }) => {
      const sinceMs = o.since;
      const rows = await withJournal((j) => j.recentSignals({ sinceMs, symbol: o.symbol }));
      print(!!o.json, rows, () =>
        table(rows.map((r) => ({ at: r.at, symbol: r.symbol, signal: r.signal, confidence: +r.confidence.toFixed(3), decision: r.decision, reason: r.reason, model: r.model, candle: r.candleTime, price: r.price }))),
      );
    });

  program
    .command('pnl')
    .description('realized and unrealized P&L, fees, trades and win rate from the journal')
    .option('--since <duration>', 'only positions closed in this window, e.g. 7d, 12h (default: everything)', duration)
    .addOption(new Option('--by <grouping>', 'one line per UTC day of closing or per symbol').choices(['day', 'symbol']))
    .option('--json', 'machine-readable output')
    .action(async (o: { since?: number; by?: 'day' | 'symbol'; json?: boolean }) => {
      const since = o.since ? new Date(Date.now() - o.since) : null;
      const report = await withJournal((j) => j.pnlReport({ since, by: o.by ?? null }));
      print(!!o.json, report, () => formatPnlReport(report));
    });

  program
    .command('orders')
    .description('orders sent, newest first')
    .option('--limit <n>', 'rows', positiveInteger, 50)
    .option('--symbol <symbol>', 'only this symbol', symbolArg)
    .option('--json', 'machine-readable output')
    .action(async (o: { limit: number; symbol?: string; json?: boolean }) => {
      const rows = await withJournal((j) => j.orders({ limit: o.limit, symbol: o.symbol }));
      print(!!o.json, rows, () =>
        table(rows.map((r) => ({ updated: r.updatedAt, symbol: r.symbol, purpose: r.purpose, side: r.side, type: r.type, status: r.status, qty: r.executedQty, avgPrice: r.avgPrice, clientOrderId: r.clientOrderId }))),
      );
    });
}

