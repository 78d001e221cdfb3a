/** Requests only the browser's session runner needs, on top of the shared engine protocol. */
import type { Request } from '../protocol.js';

/** Where the bytes of weight-file pieces come from: a picked File (or any Blob), or a URL read by range requests. */
export type ByteSource = { blob: Blob } | { url: string };

export type WebRequest =
  | Request
  /** Names a byte source; blob pieces whose `path` is `key` are read from it. */
  | { op: 'source'; key: string; source: ByteSource }
  /** Where onnxruntime-web's module and .wasm files are served; sent once, first. */
  | { op: 'init'; ortBase: string };
