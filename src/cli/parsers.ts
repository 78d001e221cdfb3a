/** Option value parsers shared by the commands (commander calls them; a bad value is a one-line usage error). */
import { InvalidArgumentError } from 'commander';

export function integer(min: number, what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`must be ${what}`);
    return n;
  };
}

export const positiveInteger = integer(1, 'a positive integer');

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

export function headList(value: string): string[] {
  const heads = value.split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (heads.length === 0) throw new InvalidArgumentError('must name at least one head, e.g. human or human,mouse');
  return heads;
}

export function modelList(value: string, previous: string[] | undefined): string[] {
  const models = value.split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (models.length === 0) throw new InvalidArgumentError('must name a model directory');
  return [...(previous ?? []), ...models];
}

/** A repeatable option's values in order. */
export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function shiftList(value: string): number[] {
  const shifts = value.split(',').map((s) => s.trim());
  if (shifts.length === 0 || shifts.some((s) => !/^[+-]?\d+$/.test(s))) throw new InvalidArgumentError('must be a comma-separated list of integers, e.g. 0,1,-1');
  return shifts.map(Number);
}
