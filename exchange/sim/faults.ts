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
}

export type AfterExecution = 'none' | 'lose' | 'hold' | 'unknown';

export class Faults {
  private config: FaultConfig = {};
  private seed: number;

  constructor(initial: FaultConfig = {}, seed = 1) {
    this.seed = seed;
    this.set(initial);
  }

  set(patch: FaultConfig): void {
    this.config = { ...this.config, ...structuredClone(patch) };
  }

  clear(): void {
    this.config = {};
  }

  current(): FaultConfig {
    return structuredClone(this.config);
  }

  get latencyMs(): number {
    return this.config.latencyMs ?? 0;
  }

  get clockSkewMs(): number {
    return this.config.clockSkewMs ?? 0;
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
