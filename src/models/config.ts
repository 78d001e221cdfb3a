/** Typed reads of `config.json` fields with errors that name the file and the field. */

export class ConfigError extends Error {}

export function requireInt(json: Record<string, unknown>, key: string, source: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${source}: missing field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${source}: field "${key}" must be a positive integer, found ${JSON.stringify(v)}`);
  return v;
}

export function optionalInt(json: Record<string, unknown>, key: string, source: string): number | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(`${source}: field "${key}" must be an integer, found ${JSON.stringify(v)}`);
  return v;
}

export function optionalBool(json: Record<string, unknown>, key: string, source: string): boolean | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(`${source}: field "${key}" must be true or false, found ${JSON.stringify(v)}`);
  return v;
}

export function optionalString(json: Record<string, unknown>, key: string, source: string): string | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${source}: field "${key}" must be a string, found ${JSON.stringify(v)}`);
  return v;
}

export function readHeads(json: Record<string, unknown>, key: string, source: string, fallback: Record<string, number>): Record<string, number> {
  const v = json[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${source}: field "${key}" must be an object of head name -> track count`);
  const out: Record<string, number> = {};
  for (const [name, tracks] of Object.entries(v)) {
    if (typeof tracks !== 'number' || !Number.isInteger(tracks) || tracks <= 0) {
      throw new ConfigError(`${source}: field "${key}.${name}" must be a positive integer, found ${JSON.stringify(tracks)}`);
    }
    out[name] = tracks;
  }
  if (Object.keys(out).length === 0) throw new ConfigError(`${source}: field "${key}" names no heads`);
  return out;
}

export function optionalIntArray(json: Record<string, unknown>, key: string, source: string, length: number): number[] | undefined {
  const v = json[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0)) {
    throw new ConfigError(`${source}: field "${key}" must be a list of ${length} positive integers, found ${JSON.stringify(v)}`);
  }
  return v as number[];
}
