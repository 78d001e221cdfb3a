/** A mistake in how the command was called (as opposed to bad input data). */
export class UsageError extends Error {}

/** One line for the terminal: the message of any thrown value, newlines folded. */
export function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Everything known about a failure, for `--debug`: the stack, and the stacks of its causes. */
export function fullReport(e: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let c: unknown = e; c !== undefined && c !== null && !seen.has(c); c = (c as { cause?: unknown }).cause) {
    seen.add(c);
    parts.push(c instanceof Error ? (c.stack ?? `${c.name}: ${c.message}`) : String(c));
  }
  return parts.join('\ncaused by: ');
}
