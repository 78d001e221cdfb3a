// Builds the page (src/web) into dist/web. onnxruntime-web is not bundled: its module and .wasm are
// copied to dist/web/ort/ and loaded by the engine worker at run time, so ORT's own pthread workers
// find them beside it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'vite';

const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
const ORT_FILES = ['ort.min.mjs', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

/** Emits onnxruntime-web's runtime files as they are, under ort/. */
function ortRuntime() {
  return {
    name: 'seq2track-ort-runtime',
    generateBundle() {
      for (const f of ORT_FILES) this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: readFileSync(join(ortDist, f)) });
    },
  };
}

export default defineConfig({
  root: 'src/web',
  base: './',
  logLevel: 'warn',
  build: {
    outDir: '../../dist/web',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    sourcemap: false,
  },
  worker: { format: 'es' },
  plugins: [ortRuntime()],
});
