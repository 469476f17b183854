import type { Logger } from 'pino';
import type { ScoredSignal } from '../core/types.js';

/**
 * Operator-facing summary of the fleet's signals, in the seed's format, once per window:
 *   AI signals: BUY=0 SELL=14 HOLD=0 | conf avg=0.58 max=0.64
 *   Strong signals (top 5): ...
 * Keeps only the latest signal per symbol, so the line describes the fleet, not the tick count.
 */
export class SignalLog {
  private latest = new Map<string, ScoredSignal>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly windowMs: number,
  ) {}

  add(s: ScoredSignal): void {
    this.latest.set(s.symbol, s);
    this.timer ??= setTimeout(() => this.flush(), this.windowMs).unref();
  }

  flush(): void {
    this.timer = null;
    const all = [...this.latest.values()];
    this.latest = new Map();
    if (all.length === 0) return;
    const count = (k: string) => all.filter((s) => s.signal === k).length;
    const conf = all.map((s) => s.confidence);
    const avg = conf.reduce((a, b) => a + b, 0) / conf.length;
    this.log.info(
      { buy: count('BUY'), sell: count('SELL'), hold: count('HOLD') },
      `AI signals: BUY=${count('BUY')} SELL=${count('SELL')} HOLD=${count('HOLD')} | conf avg=${avg.toFixed(2)} max=${Math.max(...conf).toFixed(2)}`,
    );
    const strong = all.filter((s) => s.signal !== 'HOLD').sort((a, b) => b.confidence - a.confidence).slice(0, 5);
    if (strong.length > 0) {
      const lines = strong.map((s, i) => `  ${i + 1}. ${s.symbol} ${s.signal} conf=${s.confidence.toFixed(2)} price=${s.price}`);
      this.log.info(`Strong signals (top ${strong.length}):\n${lines.join('\n')}`);
    }
  }
}
