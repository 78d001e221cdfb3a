/**
 * bedGraph text: per track a `track type=bedGraph name="…" description="…"` line, then
 * `chrom start end value` rows (0-based, half-open); the region job writes them (tasks/predict/region-writers.ts).
 */

/** A track line's quoted fields cannot hold `"` or `\`. */
export const quote = (s: string) => s.replace(/["\\]/g, "'");

/** The line that starts a track. */
export function trackLine(name: string, description: string): string {
  return `track type=bedGraph name="${quote(name)}" description="${quote(description)}"\n`;
}
