import { InvalidArgumentError, type Command } from 'commander';
import { parseSymbols, parseTime } from '../core/config.js';
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

/**
 * After a usage error (unknown option, missing or malformed argument) every command prints its own usage line
 * under commander's message, and the pointer to its full help.
 */
export function showUsageOnErrors(cmd: Command): void {
  const name = (c: Command): string => (c.parent ? `${name(c.parent)} ${c.name()}` : c.name());
  cmd.showHelpAfterError(`Usage: ${name(cmd)} ${cmd.usage()}\n(run ${name(cmd)} --help for usage)`);
  for (const sub of cmd.commands) showUsageOnErrors(sub);
}
