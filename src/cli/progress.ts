/**
 * Progress on stderr, only when it is a terminal: a log file or CI output gets the final summary line
 * and nothing else, so it stays readable. Shows done/total, and an ETA once something is done.
 */
export class Progress {
  private active = false;
  private readonly tty = process.stderr.isTTY === true;
  private readonly started = Date.now();

  constructor(private readonly unit: string) {}

  update(done: number, total: number): void {
    if (!this.tty) return;
    this.active = true;
    process.stderr.write(`\r\x1b[K${progressLine(done, total, this.unit, Date.now() - this.started)}`);
  }

  done(): void {
    if (!this.active) return;
    this.active = false;
    process.stderr.write('\r\x1b[K');
  }
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `[#####-----] 12/40 windows, ETA 1m05s` */
export function progressLine(done: number, total: number, unit: string, elapsedMs: number): string {
  const width = 20;
  const filled = total > 0 ? Math.round((width * done) / total) : 0;
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  const eta = done > 0 && done < total ? `, ETA ${duration((elapsedMs / done) * (total - done))}` : '';
  return `${bar} ${done}/${total} ${unit}${eta}`;
}
