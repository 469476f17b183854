import { ORDER_COUNT_LIMITS } from '../weights.js';

/**
 * Binance's request limits, as the local exchange applies them:
 *
 * - Request weight per IP in fixed one-minute windows of the server clock (a request at 00:01:23 counts
 *   toward the 00:01 minute; the count restarts at 00:02). Over the limit: 429, code -1003, Retry-After =
 *   seconds to the end of the minute.
 * - New orders per account (API key) in fixed 10-second and one-minute windows (300 and 1200). Over: 429,
 *   code -1015.
 * - An IP that keeps sending while told to back off is banned: 418, code -1003, Retry-After = ban length.
 *   Binance publishes only that bans follow "repeatedly violating rate limits and/or failing to back off
 *   after receiving 429s" and "scale in duration for repeat offenders, from 2 minutes to 3 days"; the exact
 *   rule is not public. Here: requests that arrive during a 429 back-off, more than a second after the 429
 *   (earlier ones were already in flight), count as ignoring it; the `banAfterIgnored`-th one starts a ban
 *   of 2 minutes, doubled for each further ban of that IP, at most 3 days.
 */
export interface RateLimitOptions {
  clock: () => number;
  /** Current weight limit per minute (may change at run time through a fault switch). */
  weightLimit: () => number;
  banAfterIgnored?: number;
  /** false: count and report, never refuse. */
  enforce?: boolean;
}

export type Verdict =
  | { ok: true }
  | { ok: false; status: 429 | 418; code: number; msg: string; retryAfterSec: number };

interface IpState {
  minute: number;
  used: number;
  /** End of the back-off after the last 429 (ms), and when that 429 was answered. */
  backoffUntil: number;
  backoffSince: number;
  ignored: number;
  bannedUntil: number;
  bans: number;
}

const FIRST_BAN_MS = 2 * 60_000;
const MAX_BAN_MS = 3 * 86_400_000;
const IN_FLIGHT_GRACE_MS = 1_000;

export class RateLimits {
  private readonly ips = new Map<string, IpState>();
  private readonly orders = new Map<string, { window10s: number; count10s: number; minute: number; count1m: number }>();
  private readonly banAfterIgnored: number;

  constructor(private readonly opts: RateLimitOptions) {
    this.banAfterIgnored = opts.banAfterIgnored ?? 10;
  }

  /** Adds a request's weight to its IP's minute; says whether the request may run. */
  chargeWeight(ip: string, weight: number): { used: number; verdict: Verdict } {
    const now = this.opts.clock();
    const s = this.ipState(ip, now);
    if (this.opts.enforce === false) {
      s.used += weight;
      return { used: s.used, verdict: { ok: true } };
    }
    if (now < s.bannedUntil) return { used: s.used, verdict: this.banned(ip, s, now) };
    s.used += weight;
    if (now < s.backoffUntil) {
      if (now - s.backoffSince > IN_FLIGHT_GRACE_MS && ++s.ignored >= this.banAfterIgnored) {
        const length = Math.min(MAX_BAN_MS, FIRST_BAN_MS * 2 ** s.bans);
        s.bans++;
        s.bannedUntil = now + length;
        s.backoffUntil = 0;
        s.ignored = 0;
        return { used: s.used, verdict: this.banned(ip, s, now) };
      }
      return { used: s.used, verdict: this.tooMany(ip, s, now) };
    }
    const limit = this.opts.weightLimit();
    if (s.used <= limit) return { used: s.used, verdict: { ok: true } };
    s.backoffUntil = (s.minute + 1) * 60_000;
    s.backoffSince = now;
    s.ignored = 0;
    return { used: s.used, verdict: this.tooMany(ip, s, now) };
  }

  /** Counts a new order against the account's limits. */
  chargeOrder(apiKey: string): { count10s: number; count1m: number; verdict: Verdict } {
    const now = this.opts.clock();
    const window10s = Math.floor(now / 10_000);
    const minute = Math.floor(now / 60_000);
    const o = this.orders.get(apiKey) ?? { window10s, count10s: 0, minute, count1m: 0 };
    if (o.window10s !== window10s) Object.assign(o, { window10s, count10s: 0 });
    if (o.minute !== minute) Object.assign(o, { minute, count1m: 0 });
    o.count10s++;
    o.count1m++;
    this.orders.set(apiKey, o);
    const over10s = o.count10s > ORDER_COUNT_LIMITS.per10s;
    if (this.opts.enforce === false || (!over10s && o.count1m <= ORDER_COUNT_LIMITS.perMinute)) return { ...o, verdict: { ok: true } };
    const [limit, interval, end] = over10s
      ? [ORDER_COUNT_LIMITS.per10s, '10 SECOND', (window10s + 1) * 10_000]
      : [ORDER_COUNT_LIMITS.perMinute, 'MINUTE', (minute + 1) * 60_000];
    return {
      ...o,
      verdict: { ok: false, status: 429, code: -1015, msg: `Too many new orders; current limit is ${limit} orders per ${interval}.`, retryAfterSec: Math.ceil((end - now) / 1000) },
    };
  }

  private ipState(ip: string, now: number): IpState {
    const minute = Math.floor(now / 60_000);
    let s = this.ips.get(ip);
    if (!s) {
      s = { minute, used: 0, backoffUntil: 0, backoffSince: 0, ignored: 0, bannedUntil: 0, bans: 0 };
      this.ips.set(ip, s);
    }
    if (s.minute !== minute) {
      s.minute = minute;
      s.used = 0;
    }
    return s;
  }

  private tooMany(ip: string, s: IpState, now: number): Verdict {
    const msg = `Too many requests; current limit of IP(${ip}) is ${this.opts.weightLimit()} requests per minute. Please use the websocket for live updates to avoid polling the API.`;
    return { ok: false, status: 429, code: -1003, msg, retryAfterSec: Math.max(1, Math.ceil((s.backoffUntil - now) / 1000)) };
  }

  private banned(ip: string, s: IpState, now: number): Verdict {
    const msg = `Way too many requests; IP(${ip}) banned until ${s.bannedUntil}. Please use the websocket for live updates to avoid bans.`;
    return { ok: false, status: 418, code: -1003, msg, retryAfterSec: Math.max(1, Math.ceil((s.bannedUntil - now) / 1000)) };
  }
}
