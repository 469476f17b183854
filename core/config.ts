import { z } from 'zod';
import { DEFAULT_PARAMS, PARAM_ENV, ParamError, parseParam, type TradingParams } from './params.js';
import { DEFAULT_RISK_LIMITS, type RiskLimits } from './risk.js';
import { quoteAsset } from './types.js';
import { splitSymbols } from './symbols.js';
import { DEFAULT_TASK_QUEUE } from './task-queue.js';
import type { OrphanPolicy } from './reconcile.js';

export type { OrphanPolicy } from './reconcile.js';

export { DEFAULT_TASK_QUEUE };

/**
 * The seed's 45 symbols as it traded them: USDT- and USDC-margined, each as Binance lists it. The seed's
 * log shows AVAXUSDC, SOLUSDC, NEARUSDC, UNIUSDC and ARBUSDC; the others trade against USDT. In a replay
 * a USDC symbol without a data file of its own replays its USDT twin's file, margined in USDC.
 */
export const DEFAULT_SYMBOLS = [
  '1000PEPEUSDT', '1000SHIBUSDT', 'AAVEUSDT', 'ADAUSDT', 'APTUSDT', 'ARBUSDC', 'AUCTIONUSDT', 'AVAXUSDC', 'BCHUSDT',
  'BNBUSDT', 'BTCUSDT', 'CHZUSDT', 'CRVUSDT', 'CYBERUSDT', 'DOGEUSDT', 'DOTUSDT', 'ENAUSDT', 'ETHUSDT', 'FARTCOINUSDT',
  'FILUSDT', 'HUSDT', 'HYPEUSDT', 'ICPUSDT', 'LINKUSDT', 'NEARUSDC', 'ONTUSDT', 'OPUSDT', 'PAXGUSDT', 'PENGUUSDT',
  'PIPPINUSDT', 'POLYXUSDT', 'SOLUSDC', 'SQDUSDT', 'TAOUSDT', 'TONUSDT', 'TRUMPUSDT', 'TSTUSDT', 'UNIUSDC', 'WALUSDT',
  'WCTUSDT', 'WLDUSDT', 'XLMUSDT', 'XVGUSDT', 'ZENUSDT', 'ZRXUSDT',
];

/** Binance USD-M's public REST and stream bases: the upstream of paper trading on live prices. */
export const BINANCE_USDM_REST_URL = 'https://fapi.binance.com';
export const BINANCE_USDM_WS_URL = 'wss://fstream.binance.com';

export type Venue = 'paper' | 'testnet' | 'live';

/**
 * Where signals come from: the ONNX models, or (paper venue only) seeded coin flips that force entries
 * often, for chaos runs and demos (`QT_SIGNAL_SOURCE=random:<seed>:<entry-probability>`).
 */
export type SignalSourceSetting = { kind: 'model' } | { kind: 'random'; seed: number; entryProbability: number };

export interface AppConfig {
  symbols: string[];
  paperTrading: boolean;
  enableExecution: boolean;
  enableAiTrading: boolean;
  /**
   * QT_EVENT_DRIVEN_MODE: loops are also woken by the market streams (a candle close, a mark move beyond
   * QT_EVENT_MOVE_PCT) and positions learn of crossed exit levels from the mark stream; false: timers only.
   */
  eventDrivenMode: boolean;
  /** QT_EVENT_MOVE_PCT: a mark move beyond this percentage since a loop's last evaluation wakes it. */
  eventMovePct: number;
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
  /** QT_STRATEGY: the file strategies/<name>.ts the loop trades (default the shipped XGBoost strategy). */
  strategy: string;
  /** QT_MODEL_DIR: the model a model strategy scores; null = the strategy's own model directory. */
  modelDir: string | null;
  backupModelDir: string;
  /** Refuse a model whose card says it loses to the baselines unless this is set. */
  allowUnprovenModel: boolean;
  /** Where retrained models' files are kept (one directory per version); the registry rows point here. */
  modelStoreDir: string;
  /** How often a worker reads the registry's ACTIVE model (hot reload). */
  modelRefreshSeconds: number;
  retrain: RetrainSettings;
  healthPort: number;
  /** Address /health and /metrics listen on: loopback unless a container needs them reachable. */
  healthHost: string;
  temporalAddress: string | null;
  /** gRPC and Web UI ports of the dev server `npm start` runs when TEMPORAL_ADDRESS is unset (0 = a free one). */
  temporalDevPort: number;
  temporalUiPort: number;
  temporalNamespace: string;
  taskQueue: string;
  databaseUrl: string | null;
  /**
   * Base URL of an already running exchange (paper); null = start the local exchange. On testnet / live
   * only an https URL explicitly allowed with QT_ALLOW_CUSTOM_EXCHANGE_URL=true (else Binance's own).
   */
  exchangeUrl: string | null;
  signalSource: SignalSourceSetting;
  /** Base of the exchange's market streams when not derived (paper: from exchangeUrl; testnet / live: Binance's). */
  exchangeWsUrl: string | null;
  /** Where the paper exchange takes live prices from (QT_MARKET_DATA=live): public REST and stream bases. */
  upstreamUrl: string;
  upstreamWsUrl: string;
  /** A symbol without a mark price on the stream for this long is stale: it holds and /health warns. */
  streamStaleSeconds: number;
  dataDir: string;
}

/** The learning loop: its schedule, data window, trainer size and promotion gate. */
export interface RetrainSettings {
  /** Cron (UTC) of the `qt-retrain` schedule. */
  schedule: string;
  windowDays: number;
  /** The gate refuses a candidate with fewer out-of-sample trades than this. */
  minTrades: number;
  folds: number;
  trees: number;
  maxRows: number;
  /** Symbols whose market data trains a candidate (default QT_SYMBOLS). */
  symbols: string[];
  /** Own closed trades needed before the meta-labelling model is trained. */
  metaMinTrades: number;
}

/** A bad configuration value. The message is one line naming the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Every variable is read through a zod schema of its text; the first problem becomes a one-line
 * ConfigError naming the variable. An unset or empty variable takes its default.
 */
function read<T>(env: Env, name: string, schema: z.ZodType<T, string>, dflt: T): T {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const r = schema.safeParse(v);
  if (!r.success) throw new ConfigError(name, r.error.issues[0]!.message);
  return r.data;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];
const boolText = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => TRUE.includes(s) || FALSE.includes(s), { error: (i) => `expected true or false, got "${String(i.input)}"` })
  .transform((s) => TRUE.includes(s));

function numberText(min: number, max: number, integer: boolean): z.ZodType<number, string> {
  let n = z.number();
  if (integer) n = n.int({ error: (i) => `expected an integer, got "${String(i.input)}"` });
  const range = { error: (i: { input?: unknown }) => `must be between ${min} and ${max}, got ${String(i.input)}` };
  return z
    .string()
    .trim()
    .refine((s) => Number.isFinite(Number(s)), { error: (i) => `expected a number, got "${String(i.input)}"` })
    .transform(Number)
    .pipe(n.min(min, range).max(max, range));
}

/** A base URL with one of the allowed schemes, without a trailing slash. */
function urlText(schemes: string[]): z.ZodType<string, string> {
  return z
    .string()
    .trim()
    .refine((s) => URL.canParse(s), { error: (i) => `"${String(i.input)}" is not a URL`, abort: true })
    .refine((s) => schemes.includes(new URL(s).protocol), { error: (i) => `expected a ${schemes.map((x) => x.replace(':', '://')).join(' or ')} URL, got "${String(i.input)}"` })
    .transform((s) => s.replace(/\/+$/, ''));
}

function oneOfText<T extends string>(allowed: readonly T[]): z.ZodType<T, string> {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((s): s is T => (allowed as readonly string[]).includes(s), { error: (i) => `expected one of ${allowed.join('|')}, got "${String(i.input)}"` }) as unknown as z.ZodType<T, string>;
}

/** Five cron fields (minute hour day-of-month month day-of-week), as Temporal schedules take them. */
const cronText: z.ZodType<string, string> = z
  .string()
  .trim()
  .transform((s) => s.split(/\s+/))
  .refine((f) => f.length === 5 && f.every((x) => /^[\d*/,\-A-Za-z?]+$/.test(x)), {
    error: (i) => `must be a 5-field cron expression (UTC), e.g. "30 0 * * *", got "${(i.input as string[]).join(' ')}"`,
  })
  .transform((f) => f.join(' '));

const bool = (env: Env, name: string, dflt: boolean): boolean => read(env, name, boolText, dflt);
const num = (env: Env, name: string, dflt: number, min: number, max: number, integer = false): number => read(env, name, numberText(min, max, integer), dflt);
const url = (env: Env, name: string, dflt: string | null, schemes: string[]): string | null => read<string | null>(env, name, urlText(schemes), dflt);
const cron = (env: Env, name: string, dflt: string): string => read(env, name, cronText, dflt);
const oneOf = <T extends string>(env: Env, name: string, allowed: readonly T[], dflt: T): T => read(env, name, oneOfText(allowed), dflt);

/**
 * Parse a time given as ISO 8601 (`2025-09-01`, `2025-09-01T12:00`, `2025-09-01T12:00Z`), epoch milliseconds
 * (13 digits) or epoch seconds (10 digits). A time without a zone is UTC, like the data files, never the
 * machine's local time. Other digit counts are refused: 11 or 12 digits could be either unit.
 */
export function parseTime(value: string, name: string): number {
  const s = value.trim();
  if (/^\d+$/.test(s)) {
    if (s.length === 13) return Number(s);
    if (s.length === 10) return Number(s) * 1000;
    throw new ConfigError(name, `"${value}" is neither epoch seconds (10 digits) nor epoch milliseconds (13 digits); or use 2025-08-01T12:00`);
  }
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new ConfigError(name, `cannot read "${value}" as a time (use 2025-08-01, 2025-08-01T12:00, epoch seconds or epoch ms)`);
  return ms;
}

export function parseSymbols(value: string, name = 'QT_SYMBOLS'): string[] {
  const symbols = splitSymbols(value);
  if (symbols.length === 0) throw new ConfigError(name, 'no symbols given');
  for (const s of symbols) {
    if (!/^[A-Z0-9]{2,20}$/.test(s)) throw new ConfigError(name, `"${s}" is not a symbol`);
    try {
      quoteAsset(s);
    } catch (e) {
      throw new ConfigError(name, (e as Error).message);
    }
  }
  return symbols;
}

/** QT_SIGNAL_SOURCE: `model` (default) or `random:<seed>:<entry-probability>`, the latter on paper only. */
export function signalSourceSetting(env: Env, venue: Venue): SignalSourceSetting {
  const v = env.QT_SIGNAL_SOURCE?.trim();
  if (!v || v === 'model') return { kind: 'model' };
  const m = /^random:(\d{1,10}):([0-9.]+)$/.exec(v);
  const entryProbability = Number(m?.[2]);
  if (!m || !(entryProbability > 0 && entryProbability <= 1) || Number(m[1]) > 0xffffffff) {
    throw new ConfigError('QT_SIGNAL_SOURCE', `expected model or random:<seed>:<entry-probability> (seed an integer, probability in (0, 1]), got "${v}"`);
  }
  if (venue !== 'paper') throw new ConfigError('QT_SIGNAL_SOURCE', `random signals trade on coin flips: refused on the ${venue} venue (paper only)`);
  return { kind: 'random', seed: Number(m[1]), entryProbability };
}

/**
 * QT_EXCHANGE_URL. On testnet and live the adapter signs requests with the account's keys, so they go
 * to Binance's own URL unless another one is https and explicitly allowed: a mistyped or planted
 * variable must not send keys and signed orders to an arbitrary host.
 */
export function exchangeUrlSetting(env: Env, venue: Venue): string | null {
  const allowed = bool(env, 'QT_ALLOW_CUSTOM_EXCHANGE_URL', false);
  const v = env.QT_EXCHANGE_URL?.trim();
  if (!v) return null;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError('QT_EXCHANGE_URL', `not a URL: "${v}"`);
  }
  if (venue === 'paper') return v;
  const https = url.protocol === 'https:';
  if (!https || !allowed) {
    const needs = [https ? null : 'an https URL', allowed ? null : 'QT_ALLOW_CUSTOM_EXCHANGE_URL=true'].filter(Boolean).join(' and ');
    throw new ConfigError('QT_EXCHANGE_URL', `the ${venue} venue sends keys and signed orders to Binance's own URL; ${url.protocol}//${url.host} needs ${needs}`);
  }
  return v;
}

function params(env: Env): TradingParams {
  const p = { ...DEFAULT_PARAMS };
  for (const key of Object.keys(PARAM_ENV) as (keyof TradingParams)[]) {
    const name = PARAM_ENV[key];
    const v = env[name];
    if (v === undefined || v === '') continue;
    try {
      (p as Record<keyof TradingParams, unknown>)[key] = parseParam(key, v, name);
    } catch (e) {
      if (e instanceof ParamError) throw new ConfigError(name, e.message.replace(`${name} `, ''));
      throw e;
    }
  }
  return p;
}

/** QT_STRATEGY: a strategy file name (the registry in strategies/ checks that it exists). */
function strategyName(env: Env): string {
  const v = env.QT_STRATEGY?.trim();
  if (!v) return 'xgb';
  if (!/^[a-z0-9][a-z0-9-]*$/.test(v)) throw new ConfigError('QT_STRATEGY', `expected the name of a file in strategies/ (lower case, digits, dashes), got "${v}"`);
  return v;
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
    eventMovePct: num(env, 'QT_EVENT_MOVE_PCT', 0.5, 0.01, 100),
    venue,
    marketData,
    replayDir: replayDir ?? (marketData === 'replay' ? dataDir : null),
    replaySpeed: num(env, 'QT_REPLAY_SPEED', 1, 0.01, 100_000),
    replayStart: env.QT_REPLAY_START ? parseTime(env.QT_REPLAY_START, 'QT_REPLAY_START') : null,
    params: p,
    risk,
    reconcileSeconds: num(env, 'QT_RECONCILE_SECONDS', 60, 1, 86_400),
    orphanPolicy: oneOf(env, 'QT_ORPHAN_POLICY', ['adopt', 'flatten'] as const, 'adopt'),
    strategy: strategyName(env),
    modelDir: env.QT_MODEL_DIR?.trim() || null,
    backupModelDir: env.QT_BACKUP_MODEL_DIR?.trim() || 'models/tft-v1',
    allowUnprovenModel: bool(env, 'QT_ALLOW_UNPROVEN_MODEL', false),
    modelStoreDir: env.QT_MODEL_STORE_DIR?.trim() || `${env.QT_STATE_DIR?.trim() || '.qt'}/models`,
    modelRefreshSeconds: num(env, 'QT_MODEL_REFRESH_SECONDS', 5, 1, 3600),
    retrain: {
      schedule: cron(env, 'QT_RETRAIN_SCHEDULE', '30 0 * * *'),
      windowDays: num(env, 'QT_RETRAIN_WINDOW_DAYS', 30, 1, 3650),
      minTrades: num(env, 'QT_PROMOTION_MIN_TRADES', 100, 1, 1e9, true),
      folds: num(env, 'QT_RETRAIN_FOLDS', 4, 2, 20, true),
      trees: num(env, 'QT_RETRAIN_TREES', 40, 1, 2000, true),
      maxRows: num(env, 'QT_RETRAIN_MAX_ROWS', 150_000, 1000, 1e8, true),
      symbols: env.QT_RETRAIN_SYMBOLS ? parseSymbols(env.QT_RETRAIN_SYMBOLS, 'QT_RETRAIN_SYMBOLS') : env.QT_SYMBOLS ? parseSymbols(env.QT_SYMBOLS) : [...DEFAULT_SYMBOLS],
      metaMinTrades: num(env, 'QT_META_MIN_TRADES', 50, 1, 1e9, true),
    },
    healthPort: num(env, 'QT_HEALTH_PORT', 8000, 0, 65535, true),
    healthHost: env.QT_HEALTH_HOST?.trim() || '127.0.0.1',
    temporalAddress: env.TEMPORAL_ADDRESS?.trim() || null,
    temporalDevPort: num(env, 'QT_TEMPORAL_PORT', 7233, 0, 65535, true),
    temporalUiPort: num(env, 'QT_TEMPORAL_UI_PORT', 8233, 0, 65535, true),
    temporalNamespace: env.TEMPORAL_NAMESPACE?.trim() || 'default',
    taskQueue: env.QT_TASK_QUEUE?.trim() || DEFAULT_TASK_QUEUE,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    exchangeUrl: exchangeUrlSetting(env, venue),
    signalSource: signalSourceSetting(env, venue),
    exchangeWsUrl: url(env, 'QT_EXCHANGE_WS_URL', null, ['ws:', 'wss:']),
    upstreamUrl: url(env, 'QT_UPSTREAM_URL', BINANCE_USDM_REST_URL, ['http:', 'https:'])!,
    upstreamWsUrl: url(env, 'QT_UPSTREAM_WS_URL', BINANCE_USDM_WS_URL, ['ws:', 'wss:'])!,
    streamStaleSeconds: num(env, 'QT_STREAM_STALE_SECONDS', 10, 2, 3600),
    dataDir,
  };
}
