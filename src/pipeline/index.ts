// `modelcache/pipeline`: pass-by-pass caching of model-optimization pipelines, locally and in a
// shared Azure Blob container. Everything not exported here is internal.
export {
  Pipeline,
  PipelineResult,
  PassError,
  type PipelineOptions,
  type PipelineStats,
  type PipelineEvent,
  type PublishOutcome,
  type PassReport,
  type PassStatus,
  type Evaluator,
  type EvaluationResult,
} from './pipeline.js';
export type { Pass, PassInput, PassOutput, PassContext, PassRef, AcceleratorSpec } from './pass.js';
export type { PipelineCacheOptions, SharedTierTuning } from './location.js';
export { modelId, type ModelInput, type ModelFile } from './model.js';
export { canonicalConfig, outputId, type CanonicalConfig } from './config.js';
export type { RunRecord, EvaluationRecord } from './records.js';
export type { OutputManifest } from './manifest.js';
export { Workflow, WorkflowError, loadWorkflow, type WorkflowOptions, type WorkflowRun } from './workflow.js';
export { workflowSchema } from './workflow-schema.js';
export { EXPORT_DESCRIPTOR, type ExportDescriptor, type ExportedPass, type SavedModel, type SaveOptions } from './export.js';
export {
  BUILTIN_EVALUATORS,
  BUILTIN_PASSES,
  onnxFloatToFloat16,
  onnxMetadata,
  ortGraphOptimization,
  ortLatency,
  type OnnxFloatToFloat16Config,
  type OnnxMetadataConfig,
  type OrtGraphOptimizationConfig,
  type OrtLatencyConfig,
} from './passes/index.js';
export { DEFAULT_OP_BLOCK_LIST } from '../onnx/float16.js';
export {
  AzureBlobTier,
  type AzureBlobTierOptions,
  type AzureTierStats,
  type BlobInfo,
  type TokenCredentialLike,
  type TransferProgress,
} from '../store/azure/tier.js';
