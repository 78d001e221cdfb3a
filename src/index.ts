export { loadModel, architectureFromConfig, readGammaTable, type LoadOptions } from './models/load.js';
export { Model, LengthError, type Prediction, type PredictOptions, type OneHotBatch, type Track3D, type ModelOptions } from './models/model.js';
export { Enformer, parseEnformerConfig, type EnformerConfig } from './models/enformer.js';
export type { Architecture, FlopCount } from './models/architecture.js';
export { oneHot, oneHotInto, SequenceError } from './genome/one-hot.js';
export { SafetensorsFile, writeSafetensors, type TensorInfo } from './weights/safetensors.js';
export { WeightSet, checkWeights, WeightsMismatchError } from './weights/weight-set.js';
export { Engine, type EngineOptions } from './engine/engine.js';
export { Graph } from './engine/graph.js';
