/** Fixture models loaded the way the parity tests need them, closed whatever happens. */
import { after, before } from 'node:test';
import { loadModel } from '../models/load.js';
import type { Model, OneHotBatch } from '../models/model.js';
import { fixture, fixtureInput, fixturePath } from './fixtures.js';

export interface TiledPair {
  untiled: Model;
  /** The same model with 1,024 bp trunk tiles. */
  tiled: Model;
  /** The fixture's input x. */
  x: OneHotBatch;
}

/**
 * The fixture's model whole-window and tiled (two threads each) with its input, filled in by a `before`
 * hook (left empty when the fixture is missing: its tests skip) and closed by an `after` hook.
 */
export function tiledPair(name: string): TiledPair {
  const pair = {} as TiledPair;
  before(async () => {
    if (!fixture(name)) return;
    pair.untiled = await loadModel(fixturePath(name), { tileLength: 0, threads: 2 });
    pair.tiled = await loadModel(fixturePath(name), { tileLength: 1024, threads: 2 });
    pair.x = await fixtureInput(name);
  });
  after(async () => {
    await pair.untiled?.close();
    await pair.tiled?.close();
  });
  return pair;
}

/** Runs `body` with the fixture's model (one thread, closed afterwards) and its input x. */
export async function withFixtureModel<T>(name: string, body: (model: Model, x: OneHotBatch) => Promise<T>): Promise<T> {
  const model = await loadModel(fixturePath(name), { threads: 1 });
  try {
    return await body(model, await fixtureInput(name));
  } finally {
    await model.close();
  }
}
