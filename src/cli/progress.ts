/**
 * Progress on stderr, only when it is a terminal: a log file or CI output gets the final summary line
 * and nothing else, so it stays readable.
 */
export class Progress {
  private active = false;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly unit: string) {}

  update(done: number, total: number): void {
    if (!this.tty) return;
    this.active = true;
    process.stderr.write(`\r\x1b[K${done}/${total} ${this.unit}`);
  }

  done(): void {
    if (!this.active) return;
    this.active = false;
    process.stderr.write('\r\x1b[K');
  }
}
