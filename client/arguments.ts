import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError, parseSymbols, parseTime } from '../core/config.js';
import { DEFAULT_PARAMS, PARAM_ENV, applyParamChanges, type TradingParams } from '../core/params.js';
import { INTRABAR_MODES, type IntrabarMode } from '../core/intrabar.js';
import type { SweepAxis } from '../backtest/sweep.js';
import { parseDuration } from './format.js';

/**
 * Argument parsers for the `qt` subcommands. Each one refuses a malformed value with InvalidArgumentError, so
 * commander stops before the command runs, names the option and prints the command's usage, and `qt` exits 1.
 */

/** Re-throws a validation error of a shared parser as the option's own message (without its name prefix). */
function invalid(e: unknown, name: string): InvalidArgumentError {
  const message = e instanceof Error ? e.message : String(e);
  return new InvalidArgumentError(`${message.replace(new RegExp(`^${name}: `), '')}.`);
}

/** A number written plainly: commander would otherwise take "", "0x10" or " 5 " through Number(). */
const NUMBER_TEXT = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function number(value: string): number {
  const n = NUMBER_TEXT.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = number(value);
  if (!(n > 0)) throw new InvalidArgumentError('must be a number above 0.');
  return n;
}

export function positiveInteger(value: string): number {
  const n = number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new InvalidArgumentError('must be a whole number above 0.');
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = number(value);
  if (!(Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError('must be a whole number, 0 or more.');
  return n;
}

export function port(value: string): number {
  const n = number(value);
  if (!(Number.isInteger(n) && n >= 0 && n <= 65_535)) throw new InvalidArgumentError('must be a port number, 0 to 65535.');
  return n;
}

/** One symbol, e.g. BTCUSDT: letters and digits with a quote asset the agent trades. */
export function symbol(value: string): string {
  const list = symbolList(value);
  if (list.length !== 1) throw new InvalidArgumentError('must be one symbol, e.g. BTCUSDT.');
  return list[0]!;
}

/** Comma-separated symbols, upper-cased and deduplicated. */
export function symbolList(value: string): string[] {
  try {
    return parseSymbols(value, 'symbols');
  } catch (e) {
    throw invalid(e, 'symbols');
  }
}

/** A point in time: ISO date/time (UTC), epoch seconds or epoch milliseconds. */
export function time(value: string): number {
  try {
    return parseTime(value, 'time');
  } catch (e) {
    throw invalid(e, 'time');
  }
}

/** A duration such as 30s, 5m, 2h, 1d, in milliseconds; above zero. */
export function duration(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
  if (!(ms > 0)) throw new InvalidArgumentError('must be longer than zero, e.g. 30s, 5m, 2h, 1d.');
  return ms;
}

/** `KEY=VALUE` split at the first `=`; anything else is refused naming the text. */
export function splitAssignment(pair: string): [key: string, value: string] {
  const m = /^([A-Za-z_]+)=(.+)$/.exec(pair);
  if (!m) throw new ConfigError(pair, 'expected KEY=VALUE');
  return [m[1]!, m[2]!];
}

const PARAM_BY_ENV = Object.fromEntries(Object.entries(PARAM_ENV).map(([k, v]) => [v, k])) as Record<string, keyof TradingParams>;

/** A trading parameter named by its QT_ variable or by its own name (unknown names are left for the check to refuse). */
export function paramName(key: string): string {
  return PARAM_BY_ENV[key] ?? key;
}

/** Trading parameter values by parameter name, as text: `--set` and `qt config set` read the same names. */
export type ParamAssignments = Record<string, string>;

/** Check values exactly as `qt config set` does (core/params.ts), as a usage error naming the option. */
function checkAssignments(values: ParamAssignments): void {
  try {
    applyParamChanges(DEFAULT_PARAMS, values);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
}

/** One `--set KEY=VALUE` (repeatable): a trading parameter by QT_ variable or name, checked like `qt config set`. */
export function paramAssignment(pair: string, previous: ParamAssignments = {}): ParamAssignments {
  let key: string;
  let value: string;
  try {
    [key, value] = splitAssignment(pair);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
  const one = { [paramName(key)]: value };
  checkAssignments(one);
  return { ...previous, ...one };
}

/** One `--sweep KEY=v1,v2,...` (repeatable): every value checked like `qt config set`, a key swept once. */
export function sweepAxis(spec: string, previous: SweepAxis[] = []): SweepAxis[] {
  let key: string;
  let list: string;
  try {
    [key, list] = splitAssignment(spec);
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message.replace('KEY=VALUE', 'KEY=v1,v2,...')}.`);
  }
  const name = paramName(key);
  const values = list.split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new InvalidArgumentError(`${key}: an empty value in "${list}".`);
  for (const v of values) checkAssignments({ [name]: v });
  const param = name as keyof TradingParams;
  if (previous.some((a) => a.key === param)) throw new InvalidArgumentError(`${key} is swept twice.`);
  return [...previous, { key: param, env: PARAM_ENV[param], values: [...new Set(values)] }];
}

/** `--intrabar path|pessimistic|both`: the intrabar paths to simulate. */
export function intrabarModes(value: string): IntrabarMode[] {
  const v = value.trim().toLowerCase();
  if (v === 'both') return [...INTRABAR_MODES];
  if ((INTRABAR_MODES as readonly string[]).includes(v)) return [v as IntrabarMode];
  throw new InvalidArgumentError(`must be one of ${INTRABAR_MODES.join(', ')} or both.`);
}

/**
 * After a usage error (unknown option, missing or malformed argument) every command prints its own usage line
 * under commander's message, and the pointer to its full help.
 */
export function showUsageOnErrors(cmd: Command): void {
  const name = (c: Command): string => (c.parent ? `${name(c.parent)} ${c.name()}` : c.name());
  cmd.showHelpAfterError(`Usage: ${name(cmd)} ${cmd.usage()}\n(run ${name(cmd)} --help for usage)`);
  for (const sub of cmd.commands) showUsageOnErrors(sub);
}
