/** A progress line on stderr for long steps: redrawn in place on a terminal, a line every 10 % otherwise. */
export class Progress {
  private lastPct = -1;
  private readonly started = Date.now();
  constructor(private readonly label: string, private readonly total: number, private readonly enabled = true) {}

  update(done: number, note = ''): void {
    if (!this.enabled || this.total <= 0) return;
    const pct = Math.floor((100 * done) / this.total);
    const tty = process.stderr.isTTY;
    if (pct === this.lastPct || (!tty && pct % 10 !== 0 && done !== this.total)) return;
    this.lastPct = pct;
    const width = 30;
    const filled = Math.round((width * done) / this.total);
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct}% ${secs}s ${note}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  done(note = ''): void {
    this.update(this.total, note);
    if (this.enabled && process.stderr.isTTY) process.stderr.write('\n');
  }
}
