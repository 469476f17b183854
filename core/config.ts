import { DEFAULT_PARAMS, PARAM_ENV, ParamError, checkParam, type TradingParams } from './params.js';
import { DEFAULT_RISK_LIMITS, type RiskLimits } from './risk.js';
import { quoteAsset } from './types.js';
import type { OrphanPolicy } from './reconcile.js';

export type { OrphanPolicy } from './reconcile.js';

/** Task queue of a default deployment (QT_TASK_QUEUE); its book-wide workflows get the short ids. */
export const DEFAULT_TASK_QUEUE = 'quantum-trader';

/** The seed's 45 symbols (all USDT-margined; USDC symbols such as AVAXUSDC are accepted too). */
export const DEFAULT_SYMBOLS = [
  '1000PEPEUSDT', '1000SHIBUSDT', 'AAVEUSDT', 'ADAUSDT', 'APTUSDT', 'ARBUSDT', 'AUCTIONUSDT', 'AVAXUSDT', 'BCHUSDT',
  'BNBUSDT', 'BTCUSDT', 'CHZUSDT', 'CRVUSDT', 'CYBERUSDT', 'DOGEUSDT', 'DOTUSDT', 'ENAUSDT', 'ETHUSDT', 'FARTCOINUSDT',
  'FILUSDT', 'HUSDT', 'HYPEUSDT', 'ICPUSDT', 'LINKUSDT', 'NEARUSDT', 'ONTUSDT', 'OPUSDT', 'PAXGUSDT', 'PENGUUSDT',
  'PIPPINUSDT', 'POLYXUSDT', 'SOLUSDT', 'SQDUSDT', 'TAOUSDT', 'TONUSDT', 'TRUMPUSDT', 'TSTUSDT', 'UNIUSDT', 'WALUSDT',
  'WCTUSDT', 'WLDUSDT', 'XLMUSDT', 'XVGUSDT', 'ZENUSDT', 'ZRXUSDT',
];

export type Venue = 'paper' | 'testnet' | 'live';

export interface AppConfig {
  symbols: string[];
  paperTrading: boolean;
  enableExecution: boolean;
  enableAiTrading: boolean;
  eventDrivenMode: boolean;
  venue: Venue;
  marketData: 'live' | 'replay';
  replayDir: string | null;
  replaySpeed: number;
  /** Epoch ms where replay starts, or null for the start of the data. */
  replayStart: number | null;
  params: TradingParams;
  risk: RiskLimits;
  /** Seconds between reconciliation passes (exchange vs workflows vs journal). */
  reconcileSeconds: number;
  /** What reconciliation does with exchange exposure nobody owns. */
  orphanPolicy: OrphanPolicy;
  modelDir: string;
  backupModelDir: string;
  /** Refuse a model whose card says it loses to the baselines unless this is set. */
  allowUnprovenModel: boolean;
  healthPort: number;
  /** Address /health and /metrics listen on: loopback unless a container needs them reachable. */
  healthHost: string;
  temporalAddress: string | null;
  temporalNamespace: string;
  taskQueue: string;
  databaseUrl: string | null;
  /** Base URL of an already running exchange (paper); null = start the local exchange. */
  exchangeUrl: string | null;
  dataDir: string;
}

/** A bad configuration value. The message is one line naming the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function bool(env: Env, name: string, dflt: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const s = v.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(s)) return true;
  if (['false', '0', 'no', 'off'].includes(s)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

function num(env: Env, name: string, dflt: number, min: number, max: number, integer = false): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v.trim());
  if (!Number.isFinite(n)) throw new ConfigError(name, `expected a number, got "${v}"`);
  if (integer && !Number.isInteger(n)) throw new ConfigError(name, `expected an integer, got "${v}"`);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], dflt: T): T {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const s = v.trim().toLowerCase() as T;
  if (!allowed.includes(s)) throw new ConfigError(name, `expected one of ${allowed.join('|')}, got "${v}"`);
  return s;
}

/**
 * Parse a time given as ISO 8601 (`2025-09-01`, `2025-09-01T12:00`, `2025-09-01T12:00Z`) or epoch ms.
 * A time without a zone is UTC, like the data files, never the machine's local time.
 */
export function parseTime(value: string, name: string): number {
  const s = value.trim();
  if (/^\d{10,}$/.test(s)) return Number(s);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new ConfigError(name, `cannot read "${value}" as a time (use 2025-08-01, 2025-08-01T12:00 or epoch ms)`);
  return ms;
}

export function parseSymbols(value: string, name = 'QT_SYMBOLS'): string[] {
  const symbols = value.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) throw new ConfigError(name, 'no symbols given');
  for (const s of symbols) {
    if (!/^[A-Z0-9]{2,20}$/.test(s)) throw new ConfigError(name, `"${s}" is not a symbol`);
    try {
      quoteAsset(s);
    } catch (e) {
      throw new ConfigError(name, (e as Error).message);
    }
  }
  return [...new Set(symbols)];
}

function params(env: Env): TradingParams {
  const p = { ...DEFAULT_PARAMS };
  for (const key of Object.keys(PARAM_ENV) as (keyof TradingParams)[]) {
    const name = PARAM_ENV[key];
    const v = env[name];
    if (v === undefined || v === '') continue;
    try {
      p[key] = checkParam(key, Number(v.trim()), name);
    } catch (e) {
      if (e instanceof ParamError) throw new ConfigError(name, e.message.replace(`${name} `, ''));
      throw e;
    }
  }
  return p;
}

/** Read and validate the whole configuration. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env): AppConfig {
  const paperTrading = bool(env, 'QT_PAPER_TRADING', true);
  let venue: Venue = paperTrading ? 'paper' : oneOf(env, 'QT_VENUE', ['testnet', 'live'] as const, 'live');
  if (paperTrading && env.QT_VENUE && env.QT_VENUE.trim().toLowerCase() !== 'paper')
    throw new ConfigError('QT_VENUE', `"${env.QT_VENUE}" needs QT_PAPER_TRADING=false`);
  if (venue === 'live' && env.QT_CONFIRM_LIVE_TRADING !== 'I understand real money is at risk')
    throw new ConfigError('QT_CONFIRM_LIVE_TRADING', 'live trading needs QT_CONFIRM_LIVE_TRADING="I understand real money is at risk"');
  const marketData = oneOf(env, 'QT_MARKET_DATA', ['live', 'replay'] as const, 'replay');
  const replayDir = env.QT_REPLAY_DIR?.trim() || null;
  const dataDir = env.QT_DATA_DIR?.trim() || '../shared/data/binance-futures-5m';
  const risk: RiskLimits = {
    maxOpenPositions: num(env, 'QT_MAX_OPEN_POSITIONS', DEFAULT_RISK_LIMITS.maxOpenPositions, 0, 10_000, true),
    maxTotalNotional: num(env, 'QT_MAX_TOTAL_NOTIONAL', DEFAULT_RISK_LIMITS.maxTotalNotional, 0, 1e12),
    maxSymbolNotional: num(env, 'QT_MAX_SYMBOL_NOTIONAL', DEFAULT_RISK_LIMITS.maxSymbolNotional, 0, 1e12),
    dailyLossLimit: num(env, 'QT_DAILY_LOSS_LIMIT', DEFAULT_RISK_LIMITS.dailyLossLimit, 0, 1e12),
    maxLeverage: num(env, 'QT_MAX_LEVERAGE', DEFAULT_RISK_LIMITS.maxLeverage, 1, 125, true),
    maxOrderNotional: num(env, 'QT_MAX_ORDER_NOTIONAL', DEFAULT_RISK_LIMITS.maxOrderNotional, 1, 1e12),
  };
  const p = params(env);
  if (p.leverage > risk.maxLeverage) throw new ConfigError('QT_LEVERAGE', `${p.leverage} exceeds QT_MAX_LEVERAGE=${risk.maxLeverage}`);
  if (p.positionNotional > risk.maxOrderNotional)
    throw new ConfigError('QT_POSITION_NOTIONAL', `${p.positionNotional} exceeds QT_MAX_ORDER_NOTIONAL=${risk.maxOrderNotional}`);
  return {
    symbols: env.QT_SYMBOLS ? parseSymbols(env.QT_SYMBOLS) : [...DEFAULT_SYMBOLS],
    paperTrading,
    enableExecution: bool(env, 'QT_ENABLE_EXECUTION', true),
    enableAiTrading: bool(env, 'QT_ENABLE_AI_TRADING', true),
    eventDrivenMode: bool(env, 'QT_EVENT_DRIVEN_MODE', true),
    venue,
    marketData,
    replayDir: replayDir ?? (marketData === 'replay' ? dataDir : null),
    replaySpeed: num(env, 'QT_REPLAY_SPEED', 1, 0.01, 100_000),
    replayStart: env.QT_REPLAY_START ? parseTime(env.QT_REPLAY_START, 'QT_REPLAY_START') : null,
    params: p,
    risk,
    reconcileSeconds: num(env, 'QT_RECONCILE_SECONDS', 60, 1, 86_400),
    orphanPolicy: oneOf(env, 'QT_ORPHAN_POLICY', ['adopt', 'flatten'] as const, 'adopt'),
    modelDir: env.QT_MODEL_DIR?.trim() || 'models/xgb-v1',
    backupModelDir: env.QT_BACKUP_MODEL_DIR?.trim() || 'models/tft-v1',
    allowUnprovenModel: bool(env, 'QT_ALLOW_UNPROVEN_MODEL', false),
    healthPort: num(env, 'QT_HEALTH_PORT', 8000, 0, 65535, true),
    healthHost: env.QT_HEALTH_HOST?.trim() || '127.0.0.1',
    temporalAddress: env.TEMPORAL_ADDRESS?.trim() || null,
    temporalNamespace: env.TEMPORAL_NAMESPACE?.trim() || 'default',
    taskQueue: env.QT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    exchangeUrl: env.QT_EXCHANGE_URL?.trim() || null,
    dataDir,
  };
}
