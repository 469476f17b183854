/**
 * Fault switches of the local exchange, settable at start or through POST /admin/faults. Counters count down
 * as faults fire. Random 5xx draws come from a seeded generator so a test run is reproducible.
 */
export interface FaultConfig {
  /** Added delay before every /fapi request is handled. */
  latencyMs?: number;
  /** Fraction (0..1) of /fapi requests answered 503 "Service Unavailable." before execution. */
  errorRate5xx?: number;
  /** The next `count` /fapi requests get 429 -1003 with Retry-After (status 418: the IP-ban variant). */
  burst429?: { count: number; retryAfterSec: number; status?: 429 | 418 };
  /** Shifts the server clock (timestamps are checked against it): simulates client clock drift. */
  clockSkewMs?: number;
  /**
   * The next `count` mutating requests execute, then the connection is destroyed without an answer.
   * `path` (e.g. "/fapi/v1/order") limits the fault to one endpoint, so set-up calls pass untouched.
   */
  loseResponse?: { count: number; path?: string };
  /** The next `count` mutating requests execute, then their answer is held until POST /admin/release. */
  holdResponse?: { count: number; path?: string };
  /** The next `count` mutating requests execute, then get 503 with -1006/-1007 "execution status unknown". */
  unknownStatus?: { count: number; code?: -1006 | -1007; path?: string };
  /**
   * The next `count` mutating requests to `path` (default /fapi/v1/order) are not executed now: the
   * connection is destroyed without an answer and the request is executed `delayMs` later, under the rules
   * in force at that moment (client-id uniqueness, reduce-only, margin), as if the matching engine got it late.
   */
  lateExecution?: { count: number; delayMs: number; path?: string };
  /** The next `count` position reads (positionRisk v2/v3, account v2/v3) answer as if there were no positions. */
  emptyPositionRead?: { count: number };
  /**
   * The next `count` MARKET orders fill only `fraction` of their quantity (rounded down to the lot step) and
   * end EXPIRED (the rest expires, as when a MARKET order runs out of liquidity), stay PARTIALLY_FILLED, or
   * stay NEW (fraction 0 allowed). An open remainder fills at the next price step, unless cancelled first.
   */
  partialFill?: { count: number; fraction: number; status: PartialFillStatus };
  /** The next `count` requests to `path` get this answer instead of being executed. */
  httpError?: { count: number; path: string; status: HttpErrorStatus; code?: number; msg?: string };
  /** Request weight allowed per IP and minute; overrides the exchange's option (Binance: 2400). */
  weightLimitPerMinute?: number;
  /**
   * Market streams: each of the next `count` stream connections that has a message to send is terminated
   * instead (no close frame, like a lost network), so the client must notice, reconnect and resubscribe.
   */
  streamDrop?: { count: number };
  /**
   * Market streams go silent for `ms` from now: no data, no answers to requests, no pongs and no pings on
   * any stream connection, new ones included. Messages due meanwhile are lost, as from a stalled upstream.
   */
  streamStall?: { ms: number };
}

export type PartialFillStatus = 'EXPIRED' | 'PARTIALLY_FILLED' | 'NEW';
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 500 | 502 | 503;

export type AfterExecution = 'none' | 'lose' | 'hold' | 'unknown';

/** Binance-like bodies for the httpError switch when the test gives no code / msg. */
const HTTP_ERROR_DEFAULTS: Record<HttpErrorStatus, { code?: number; msg: string }> = {
  400: { code: -1000, msg: 'An unknown error occurred while processing the request.' },
  401: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' },
  403: { msg: 'Forbidden: request blocked by the web application firewall.' },
  404: { msg: 'Not Found' },
  500: { code: -1000, msg: 'Internal error; unable to process your request. Please try again.' },
  502: { msg: 'Bad Gateway' },
  503: { code: -1008, msg: 'Service Unavailable.' },
};

const DEFAULT_LATE_PATH = '/fapi/v1/order';

export class Faults {
  private config: FaultConfig = {};
  private seed: number;
  private stallUntil = 0;

  constructor(initial: FaultConfig = {}, seed = 1) {
    this.seed = seed;
    this.set(initial);
  }

  /** Merges a patch into the switches; throws a message naming the field when a value is malformed. */
  set(patch: FaultConfig): void {
    validate(patch);
    this.config = { ...this.config, ...structuredClone(patch) };
    // A stall is timed on the real clock: stream timers run on it, whatever clock the market uses.
    if (patch.streamStall) this.stallUntil = Date.now() + patch.streamStall.ms;
  }

  clear(): void {
    this.config = {};
    this.stallUntil = 0;
  }

  /** The switches as set; `streamStall.ms` is what remains of the stall. */
  current(): FaultConfig {
    const c = structuredClone(this.config);
    if (c.streamStall) c.streamStall.ms = Math.max(0, this.stallUntil - Date.now());
    return c;
  }

  streamStalled(): boolean {
    return this.stallUntil > Date.now();
  }

  /** True when this stream connection is to be dropped instead of sent to (the streamDrop switch). */
  takeStreamDrop(): boolean {
    const d = this.config.streamDrop;
    if (!d || d.count <= 0) return false;
    d.count--;
    return true;
  }

  get latencyMs(): number {
    return this.config.latencyMs ?? 0;
  }

  get clockSkewMs(): number {
    return this.config.clockSkewMs ?? 0;
  }

  get weightLimitPerMinute(): number | undefined {
    return this.config.weightLimitPerMinute;
  }

  /** Status and Retry-After seconds when this request is to be rate limited. */
  take429(): { status: 429 | 418; retryAfterSec: number } | null {
    const b = this.config.burst429;
    if (!b || b.count <= 0) return null;
    b.count--;
    return { status: b.status ?? 429, retryAfterSec: b.retryAfterSec };
  }

  take503(): boolean {
    const rate = this.config.errorRate5xx ?? 0;
    return rate > 0 && this.random() < rate;
  }

  /** The answer that replaces a request to `path`, when the httpError switch covers it. */
  takeHttpError(path: string): { status: HttpErrorStatus; body: { code?: number; msg: string } } | null {
    const e = this.config.httpError;
    if (!e || e.count <= 0 || e.path !== path) return null;
    e.count--;
    const defaults = HTTP_ERROR_DEFAULTS[e.status];
    const code = e.code ?? defaults.code;
    return { status: e.status, body: { ...(code !== undefined ? { code } : {}), msg: e.msg ?? defaults.msg } };
  }

  /** Milliseconds to postpone this mutating request by, when the lateExecution switch covers it. */
  takeLateExecution(path: string): number | null {
    const l = this.config.lateExecution;
    if (!l || l.count <= 0 || (l.path ?? DEFAULT_LATE_PATH) !== path) return null;
    l.count--;
    return l.delayMs;
  }

  takeEmptyPositionRead(): boolean {
    const e = this.config.emptyPositionRead;
    if (!e || e.count <= 0) return false;
    e.count--;
    return true;
  }

  /** How the next MARKET order fills, when the partialFill switch covers it. */
  takePartialFill(): { fraction: number; status: PartialFillStatus } | null {
    const p = this.config.partialFill;
    if (!p || p.count <= 0) return null;
    p.count--;
    return { fraction: p.fraction, status: p.status };
  }

  /** What to do with the answer of an executed mutating request. */
  takeAfterExecution(path: string): { kind: AfterExecution; code?: number } {
    const c = this.config;
    const applies = (f: { count: number; path?: string } | undefined) => !!f && f.count > 0 && (f.path === undefined || f.path === path);
    if (applies(c.loseResponse)) {
      c.loseResponse!.count--;
      return { kind: 'lose' };
    }
    if (applies(c.holdResponse)) {
      c.holdResponse!.count--;
      return { kind: 'hold' };
    }
    if (c.unknownStatus && applies(c.unknownStatus)) {
      c.unknownStatus.count--;
      return { kind: 'unknown', code: c.unknownStatus.code ?? -1006 };
    }
    return { kind: 'none' };
  }

  /** mulberry32 */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) | 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Refuses switches that would silently do nothing or something else than meant. */
function validate(p: FaultConfig): void {
  const count = (name: string, c: unknown): void => {
    if (!(Number.isInteger(c) && (c as number) >= 0)) throw new Error(`${name}.count must be a non-negative integer`);
  };
  if (p.lateExecution) {
    count('lateExecution', p.lateExecution.count);
    if (!(Number.isFinite(p.lateExecution.delayMs) && p.lateExecution.delayMs >= 0)) throw new Error('lateExecution.delayMs must be >= 0');
  }
  if (p.emptyPositionRead) count('emptyPositionRead', p.emptyPositionRead.count);
  if (p.partialFill) {
    const { fraction, status } = p.partialFill;
    count('partialFill', p.partialFill.count);
    if (!['EXPIRED', 'PARTIALLY_FILLED', 'NEW'].includes(status)) throw new Error('partialFill.status must be EXPIRED, PARTIALLY_FILLED or NEW');
    if (!(fraction >= 0 && fraction < 1)) throw new Error('partialFill.fraction must be in [0, 1)');
    if (status === 'NEW' && fraction !== 0) throw new Error('partialFill.status NEW needs fraction 0');
  }
  if (p.httpError) {
    count('httpError', p.httpError.count);
    if (!(p.httpError.status in HTTP_ERROR_DEFAULTS)) throw new Error(`httpError.status must be one of ${Object.keys(HTTP_ERROR_DEFAULTS).join(', ')}`);
    if (typeof p.httpError.path !== 'string' || !p.httpError.path.startsWith('/')) throw new Error('httpError.path must be a path such as /fapi/v1/userTrades');
  }
  if (p.weightLimitPerMinute !== undefined && !(p.weightLimitPerMinute > 0)) throw new Error('weightLimitPerMinute must be > 0');
  if (p.streamDrop) count('streamDrop', p.streamDrop.count);
  if (p.streamStall && !(Number.isFinite(p.streamStall.ms) && p.streamStall.ms >= 0)) throw new Error('streamStall.ms must be a number >= 0');
}
