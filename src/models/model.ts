/**
 * `Model` for Node: the same class as model-core.ts, with onnxruntime-node in a worker thread as the
 * session runner a model starts by default. The browser imports model-core.ts and passes its own runner.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { Engine } from '../engine/engine.js';
import { Model } from './model-core.js';

export * from './model-core.js';

Model.defaultRunner = (options) => Engine.start(options);

Model.readFileRange = (path, offset, length) => {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(length);
    for (let done = 0; done < length; ) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${offset + done}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
};
