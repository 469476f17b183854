import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../client/program.js';
import { loadConfig } from '../../core/config.js';
import { runQt } from '../helpers/qt-cli.js';

/**
 * `qt backtest` backtests the configuration the agent runs: the QT_ variables, `--set` (same names and
 * checks as `qt config set`) and `--sweep`, through the real command line.
 */
const ARGS = ['backtest', '--data', 'test/fixtures/ml-slice', '--symbols', 'ETHUSDT,SOLUSDT', '--intrabar', 'path', '--json'];

/** The report without its timings (which differ from run to run). */
function results(stdout: string): unknown {
  const r = JSON.parse(stdout) as { seconds?: unknown };
  delete r.seconds;
  return r;
}

describe('qt backtest with the agent\'s parameters', () => {
  afterEach(() => vi.restoreAllMocks());

  it('--set QT_CONFIDENCE_THRESHOLD=0.65 and the variable in the environment give the same report, different from the default', async () => {
    const [byDefault, bySet, byEnv] = await Promise.all([
      runQt(ARGS, {}, 120_000),
      runQt([...ARGS, '--set', 'QT_CONFIDENCE_THRESHOLD=0.65'], {}, 120_000),
      runQt(ARGS, { QT_CONFIDENCE_THRESHOLD: '0.65' }, 120_000),
    ]);
    for (const r of [byDefault, bySet, byEnv]) expect(r.code, r.stderr).toBe(0);
    expect(results(bySet.stdout)).toEqual(results(byEnv.stdout));
    expect(results(bySet.stdout)).not.toEqual(results(byDefault.stdout));
    const report = JSON.parse(bySet.stdout) as { settings: { params: { confidenceThreshold: number } }; strategies: { name: string; total: { trades: number } }[] };
    const defaults = JSON.parse(byDefault.stdout) as typeof report;
    expect(report.settings.params.confidenceThreshold).toBe(0.65);
    expect(defaults.settings.params.confidenceThreshold).toBe(0.55);
    // A higher threshold trades less.
    expect(report.strategies[0]!.total.trades).toBeLessThan(defaults.strategies[0]!.total.trades);
  });

  it('--sweep prints one row per combination and path, with the baselines on the same settings', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const program = buildProgram(() => loadConfig({}));
    await program.parseAsync(['node', 'qt', 'backtest', '--data', 'test/fixtures/ml-slice', '--symbols', 'ETHUSDT,SOLUSDT',
      '--sweep', 'QT_CONFIDENCE_THRESHOLD=0.55,0.65', '--sweep', 'exitMode=percent,atr']);
    expect(process.exitCode ?? 0).toBe(0);
    const out = lines.join('\n');
    expect(out).toMatch(/Sweep of model:xgb-v1: 8 rows/);
    const header = out.split('\n').find((l) => l.startsWith('QT_CONFIDENCE_THRESHOLD'))!;
    for (const col of ['QT_EXIT_MODE', 'path', 'trades', 'net P&L', 'PF', 'max DD', 'always-hold net', 'random net', 'momentum net', 'beats all']) expect(header).toContain(col);
    const rows = out.split('\n').filter((l) => /^0\.(55|65)\s/.test(l));
    expect(rows).toHaveLength(8);
    for (const t of ['0.55', '0.65']) for (const m of ['percent', 'atr']) for (const p of ['path', 'pessimistic']) {
      expect(rows.some((r) => new RegExp(`^${t.replace('.', '\\.')}\\s+${m}\\s+${p}\\s`).test(r)), `${t} ${m} ${p}`).toBe(true);
    }
    expect(out).toContain('Swept: QT_CONFIDENCE_THRESHOLD=0.55,0.65 QT_EXIT_MODE=percent,atr');
    expect(out).toMatch(/Parameters: .*QT_STOP_LOSS_PCT=1 /);
  });
});
