/** Seven significant digits, shortest form (`0.1`, `-2.5e-7`): float32 carries about that many, and a rerun writes the same bytes. */
export function formatValue(v: number): string {
  return String(Number(v.toPrecision(7)));
}
