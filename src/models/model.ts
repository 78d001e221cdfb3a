/**
 * `Model` for Node: the same class as model-core.ts, with onnxruntime-node in a worker thread as the
 * session runner a model starts by default. The browser imports model-core.ts and passes its own runner.
 */
import { Engine } from '../engine/engine.js';
import { Model } from './model-core.js';

export * from './model-core.js';

Model.defaultRunner = (options) => Engine.start(options);
