/** A mistake in how the command was called (as opposed to bad input data). */
export class UsageError extends Error {}

/** One line for the terminal: the message of any thrown value, newlines folded. */
export function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message || e.name : String(e);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
