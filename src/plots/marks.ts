/** Small builders for the Vega marks the plots draw from their datasets. */

/** A mark of `type` drawn from dataset `data`, encoded when it enters (or on every update). */
export function markFrom(type: 'rect' | 'rule' | 'text' | 'symbol', data: string, encode: Record<string, unknown>, when: 'enter' | 'update' = 'enter') {
  return { type, from: { data }, encode: { [when]: encode } };
}

/** A datum's extent along the genome: its start and end on scale `x`. */
export const SPAN_X = { x: { scale: 'x', field: 'start' }, x2: { scale: 'x', field: 'end' } };
