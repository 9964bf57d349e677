// `modelcache/pipeline`: pass-by-pass caching of model-optimization pipelines, locally and in a
// shared Azure Blob container. Everything not exported here is internal.
export {
  Pipeline,
  PipelineResult,
  PassError,
  type PipelineOptions,
  type PipelineStats,
  type PipelineEvent,
  type PassReport,
  type PassStatus,
  type Evaluator,
  type EvaluationResult,
} from './pipeline.js';
export type { Pass, PassInput, PassOutput, PassContext, AcceleratorSpec } from './pass.js';
export type { PipelineCacheOptions, SharedTierTuning } from './location.js';
export { modelId, type ModelInput, type ModelFile } from './model.js';
export { canonicalConfig, outputId, type CanonicalConfig } from './config.js';
export type { RunRecord, EvaluationRecord } from './records.js';
export type { OutputManifest } from './manifest.js';
export { SharedStore, type SharedEntry, type GcReport } from './shared.js';
export {
  AzureBlobTier,
  type AzureBlobTierOptions,
  type AzureTierStats,
  type BlobInfo,
  type TokenCredentialLike,
  type TransferProgress,
} from '../store/azure/tier.js';
