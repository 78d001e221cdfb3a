/**
 * Session options only measurements set, for `EngineOptions.sessionOptions` (onnxruntime-node's
 * names, checked against its types here).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { OrtSessionOptions } from '../engine/protocol.js';

/** Whether idle intra-op threads spin before sleeping (ORT's default: they do). */
export function spinningOptions(spinning: boolean): OrtSessionOptions {
  return { extra: { session: { intra_op: { allow_spinning: spinning ? '1' : '0' } } } } satisfies InferenceSession.SessionOptions;
}

/** ONNX Runtime's JSON profile of a session, written to `prefix_<date>_<time>.json` when the session is released. */
export function profilingOptions(prefix: string): OrtSessionOptions {
  return { enableProfiling: true, profileFilePrefix: prefix } satisfies InferenceSession.SessionOptions;
}
