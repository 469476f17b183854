import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../client/program.js';
import { runQt } from '../helpers/qt-cli.js';

type Case = [args: string[], message: RegExp, usage: string];

// A malformed argument must stop every subcommand before it reads its configuration or connects to anything,
// with the option named, the command's usage and exit code 1.
const CASES: Case[] = [
  [['start', '--symbols', 'BTCUSDT,BTC/USDT'], /--symbols.*"BTC\/USDT" is not a symbol/, 'qt start [options]'],
  [['start', '--symbols', 'BTCEUR'], /--symbols.*only USDT- and USDC-margined/, 'qt start [options]'],
  [['positions', '--limit', 'ten'], /--limit.*must be a number/, 'qt positions [options]'],
  [['positions', '--limit', '-5'], /--limit.*must be a whole number above 0/, 'qt positions [options]'],
  [['orders', '--limit', '0'], /--limit.*must be a whole number above 0/, 'qt orders [options]'],
  [['orders', '--symbol', 'eth-usdt'], /--symbol.*"ETH-USDT" is not a symbol/, 'qt orders [options]'],
  [['close', '--symbol', 'BTCUSDT,ETHUSDT'], /--symbol.*must be one symbol/, 'qt close [options]'],
  [['close'], /required option '--symbol <symbol>' not specified/, 'qt close [options]'],
  [['kill', '--symbol', '!!'], /--symbol.*not a symbol/, 'qt kill [options]'],
  [['resume', '--symbol', 'X'], /--symbol.*not a symbol/, 'qt resume [options]'],
  [['signals', '--since', '-5m'], /--since.*invalid duration/, 'qt signals [options]'],
  [['signals', '--since', '0s'], /--since.*longer than zero/, 'qt signals [options]'],
  [['pnl', '--since', 'yesterday'], /--since.*invalid duration/, 'qt pnl [options]'],
  [['config', 'get', '--symbol', '1'], /--symbol.*not a symbol/, 'qt config get [options]'],
  [['config', 'set', 'stopLossPct=abc'], /stopLossPct must be a number/, 'qt config set [options] <assignments...>'],
  [['config', 'set', 'stopLossPct=-1'], /stopLossPct must be between/, 'qt config set [options] <assignments...>'],
  [['config', 'set', 'noSuchParam=1'], /unknown parameter noSuchParam/, 'qt config set [options] <assignments...>'],
  [['config', 'set', 'nothing'], /expected KEY=VALUE/, 'qt config set [options] <assignments...>'],
  [['config', 'set'], /missing required argument 'assignments'/, 'qt config set [options] <assignments...>'],
  [['exchange', '--step-seconds', '0'], /--step-seconds.*must be a number above 0/, 'qt exchange [options]'],
  [['exchange', '--step-seconds', '-15'], /--step-seconds.*must be a number above 0/, 'qt exchange [options]'],
  [['exchange', '--speed', 'fast'], /--speed.*must be a number/, 'qt exchange [options]'],
  [['exchange', '--port', '70000'], /--port.*port number/, 'qt exchange [options]'],
  [['exchange', '--symbols', 'BTC USDT'], /--symbols.*not a symbol/, 'qt exchange [options]'],
  [['data', 'download', '--symbols', 'BTCUSDT', '--from', 'soon', '--to', '2025-01-02', '--out', '/tmp/none'], /--from.*cannot read "soon" as a time/, 'qt data download [options]'],
  [['data', 'download', '--symbols', 'BTCUSDT', '--from', '2025-01-01', '--to', '2025-01-02', '--out', '/tmp/none', '--interval', '7m'], /--interval.*Allowed choices/, 'qt data download [options]'],
  [['dataset', 'build', '--data', '/tmp/none', '--out', '/tmp/none.json', '--to', '12345'], /--to.*neither epoch seconds/, 'qt dataset build [options]'],
  [['train', '--dataset', 'x', '--out', 'y', '--trees', '1.5'], /--trees.*whole number above 0/, 'qt train [options]'],
  [['train', '--dataset', 'x', '--out', 'y', '--eta', '0'], /--eta.*number above 0/, 'qt train [options]'],
  [['backtest', '--data', '/tmp/none', '--capital', '-100'], /--capital.*number above 0/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--seed', '0x10'], /--seed.*must be a number/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--set', 'QT_CONFIDENCE_THRESHOLD=5'], /--set.*confidenceThreshold must be between 0.34 and 1, got 5/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--set', 'noSuchParam=1'], /--set.*unknown parameter noSuchParam/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--set', 'QT_EXIT_MODE=sometimes'], /--set.*exitMode must be one of percent\|atr/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--set', 'nothing'], /--set.*expected KEY=VALUE/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--sweep', 'QT_STOP_LOSS_PCT=1,abc'], /--sweep.*stopLossPct must be a number/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--sweep', 'stopLossPct=1,,2'], /--sweep.*empty value/, 'qt backtest [options]'],
  [['backtest', '--data', '/tmp/none', '--intrabar', 'sideways'], /--intrabar.*must be one of path, pessimistic or both/, 'qt backtest [options]'],
  [['dataset', 'build', '--data', '/tmp/none', '--out', '/tmp/none.json', '--intrabar', 'both'], /--intrabar.*a dataset has one set of labels/, 'qt dataset build [options]'],
  [['config', 'set', 'QT_EXIT_MODE=sometimes'], /exitMode must be one of percent\|atr/, 'qt config set [options] <assignments...>'],
  [['status', 'extra'], /too many arguments/, 'qt status [options]'],
  [['reconcile', '--all'], /unknown option '--all'/, 'qt reconcile [options]'],
];

describe('qt refuses malformed arguments with its usage', () => {
  // Parsed in-process on the real command tree: every case, without a process start each.
  it.each(CASES)('%j', async (args, message, usage) => {
    let stderr = '';
    let stdout = '';
    const config = () => {
      throw new Error('the configuration was read: the arguments were not checked first');
    };
    const program = buildProgram(config, { writeErr: (s) => void (stderr += s), writeOut: (s) => void (stdout += s) });
    const error = await program.parseAsync(['node', 'qt', ...args]).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).exitCode).toBe(1);
    expect(stderr).toMatch(message);
    expect(stderr).toContain(`Usage: ${usage}\n`);
    expect(stdout).toBe('');
  });

  // The real `qt` in its own process, with no stack running and Temporal / Postgres addresses on a closed port (a
  // command that got past its arguments would fail differently): the exit code and stderr a user sees.
  const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', DATABASE_URL: 'postgres://qt@127.0.0.1:1/qt' };
  it.each([CASES[0]!, CASES[16]!, CASES[19]!, CASES[31]!])('the qt process: %j exits 1 with the usage', async (args, message, usage) => {
    const r = await runQt(args, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(`Usage: ${usage}\n`);
    expect(r.stdout).toBe('');
  });
});
