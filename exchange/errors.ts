/**
 * Typed exchange errors. Every failure of a call to the exchange ends up as one of three kinds, and each
 * kind dictates what the caller may do next:
 *
 * - `retryable`: the request was not executed (rate limit, "service unavailable", clock skew). Send it again,
 *   after `retryAfterMs` when given.
 * - `rejected`: the exchange understood and refused the request (margin, filters, bad key, duplicate id).
 *   Sending it again gives the same answer.
 * - `unknown`: the request may or may not have been executed (timeout, connection lost mid-request,
 *   503 "execution status unknown", -1006 / -1007). Resolve by querying (e.g. by client order id), never by
 *   resending blindly.
 */
export type ExchangeErrorKind = 'retryable' | 'rejected' | 'unknown';

export interface ExchangeErrorDetails {
  code?: number;
  httpStatus?: number;
  retryAfterMs?: number;
}

export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  readonly kind: ExchangeErrorKind;
  // `declare`: absent details stay absent instead of showing up as `undefined` keys.
  declare readonly code?: number;
  declare readonly httpStatus?: number;
  declare readonly retryAfterMs?: number;

  constructor(kind: ExchangeErrorKind, message: string, details: ExchangeErrorDetails = {}) {
    super(message);
    this.kind = kind;
    const self = this as { code?: number; httpStatus?: number; retryAfterMs?: number };
    if (details.code !== undefined) self.code = details.code;
    if (details.httpStatus !== undefined) self.httpStatus = details.httpStatus;
    if (details.retryAfterMs !== undefined) self.retryAfterMs = details.retryAfterMs;
  }
}

/** Binance error codes with a fixed meaning for callers. */
export const BinanceCode = {
  UNKNOWN: -1000,
  DISCONNECTED: -1001,
  TOO_MANY_REQUESTS: -1003,
  UNEXPECTED_RESPONSE: -1006,
  TIMEOUT: -1007,
  SERVER_BUSY: -1008,
  INVALID_TIMESTAMP: -1021,
  INVALID_SIGNATURE: -1022,
  ILLEGAL_CHARS: -1100,
  MANDATORY_PARAM: -1102,
  BAD_PRECISION: -1111,
  INVALID_ORDER_TYPE: -1116,
  INVALID_SIDE: -1117,
  INVALID_SYMBOL: -1121,
  INVALID_PARAM: -1130,
  CANCEL_REJECTED: -2011,
  NO_SUCH_ORDER: -2013,
  BAD_API_KEY_FMT: -2014,
  REJECTED_MBX_KEY: -2015,
  MARGIN_INSUFFICIENT: -2019,
  WOULD_IMMEDIATELY_TRIGGER: -2021,
  REDUCE_ONLY_REJECT: -2022,
  PRICE_LESS_THAN_ZERO: -4001,
  QTY_LESS_THAN_ZERO: -4003,
  QTY_GREATER_THAN_MAX: -4005,
  INVALID_LEVERAGE: -4028,
  NO_NEED_TO_CHANGE_MARGIN_TYPE: -4046,
  NO_NEED_TO_CHANGE_POSITION_SIDE: -4059,
  DUPLICATE_CLIENT_ID: -4116,
  CONDITIONAL_TYPE_NOT_SUPPORTED: -4120,
  MIN_NOTIONAL: -4164,
} as const;

/**
 * The adapter's own hard caps (exchange/order-caps.ts): codes outside Binance's ranges, on a `rejected` error
 * raised before anything is sent. A caller handles them as a final refusal, never by sending again.
 */
export const HardCapCode = {
  ORDER_NOTIONAL: -9001,
  LEVERAGE: -9002,
  PRICE_BAND: -9003,
} as const;

export function isHardCapRefusal(e: unknown): e is ExchangeError {
  return e instanceof ExchangeError && e.code !== undefined && (Object.values(HardCapCode) as number[]).includes(e.code);
}

/** Codes meaning "not executed, try again" (besides -1021, which needs a time re-sync first). */
const RETRYABLE_CODES = new Set<number>([BinanceCode.TOO_MANY_REQUESTS, BinanceCode.SERVER_BUSY]);
/** Codes meaning "the request may have been executed". */
const UNKNOWN_CODES = new Set<number>([BinanceCode.UNEXPECTED_RESPONSE, BinanceCode.TIMEOUT]);

/** Binance's 418 is an IP ban after ignoring 429s; when it gives no Retry-After, wait a long time. */
const BAN_DEFAULT_WAIT_MS = 2 * 60_000;
const RATE_LIMIT_DEFAULT_WAIT_MS = 10_000;

export interface HttpFailure {
  httpStatus?: number;
  code?: number;
  msg?: string;
  retryAfterSec?: number;
}

/**
 * Classifies an HTTP-level answer of the exchange. Order matters: the explicit "status unknown" codes win
 * over the HTTP status, rate limits over everything else.
 */
export function classifyHttpFailure(where: string, f: HttpFailure): ExchangeError {
  const { httpStatus, code } = f;
  const msg = f.msg ?? '';
  const text = `${where}: ${code ?? httpStatus ?? '?'} ${msg}`.trim();
  const details: ExchangeErrorDetails = {};
  if (code !== undefined) details.code = code;
  if (httpStatus !== undefined) details.httpStatus = httpStatus;
  const retryAfterMs = f.retryAfterSec !== undefined ? f.retryAfterSec * 1000 : undefined;

  if (httpStatus === 418) return new ExchangeError('retryable', text, { ...details, retryAfterMs: retryAfterMs ?? BAN_DEFAULT_WAIT_MS });
  if (httpStatus === 429 || code === BinanceCode.TOO_MANY_REQUESTS) {
    return new ExchangeError('retryable', text, { ...details, retryAfterMs: retryAfterMs ?? RATE_LIMIT_DEFAULT_WAIT_MS });
  }
  if (code !== undefined && UNKNOWN_CODES.has(code)) return new ExchangeError('unknown', text, details);
  if (httpStatus === 503 && /service unavailable/i.test(msg) && !/unknown/i.test(msg)) {
    return new ExchangeError('retryable', text, { ...details, retryAfterMs: retryAfterMs ?? 1000 });
  }
  if (httpStatus !== undefined && httpStatus >= 500) return new ExchangeError('unknown', text, details);
  // -1021: the adapter has already re-synced its clock, so an immediate retry is right (no wait given).
  if (code === BinanceCode.INVALID_TIMESTAMP) return new ExchangeError('retryable', text, details);
  if (code !== undefined && RETRYABLE_CODES.has(code)) return new ExchangeError('retryable', text, { ...details, retryAfterMs: retryAfterMs ?? 1000 });
  if (httpStatus === 408) return new ExchangeError('unknown', text, details);
  return new ExchangeError('rejected', text, details);
}

/** Network-level failure codes that prove the request never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** A failure with no HTTP answer: refused connections were never sent; anything else may have executed. */
export function classifyNetworkFailure(where: string, networkCode: string | undefined, message: string): ExchangeError {
  const text = `${where}: ${networkCode ?? 'network error'} ${message}`.trim();
  if (networkCode && NOT_SENT_CODES.has(networkCode)) return new ExchangeError('retryable', text, { retryAfterMs: 1000 });
  return new ExchangeError('unknown', text);
}
