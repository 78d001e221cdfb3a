/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Channel schedule of Enformer and Borzoi towers: geometric from start to end, rounded to a divisor. */
export function exponentialLinspaceInt(start: number, end: number, num: number, divisibleBy: number): number[] {
  const base = Math.exp(Math.log(end / start) / (num - 1));
  return Array.from({ length: num }, (_, i) => roundHalfEven((start * base ** i) / divisibleBy) * divisibleBy);
}
