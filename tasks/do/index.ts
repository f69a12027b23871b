/** DigitalOcean API client, snapshot flow and build-droplet pipeline (public API of tasks/do). */
export {
  resolveToken,
  doctlConfigPath,
  doctlContextToken,
  parseDoctlAccessToken,
  type ResolvedToken,
  type TokenSource,
} from './token.js';
export {
  DoClient,
  DEFAULT_API_URL,
  DEFAULT_RETRY,
  normaliseBaseUrl,
  rateLimitWaitMs,
  type DoClientOptions,
  type RequestOptions,
  type RetryPolicy,
} from './client.js';
export { DoApiError, AbortedError, isAbortError } from './errors.js';
export { realClock, realSleep, type Clock, type Sleep } from './clock.js';
export {
  snapshotDroplet,
  DEFAULT_SNAPSHOT_TIMINGS,
  type SnapshotOptions,
  type SnapshotResult,
  type SnapshotTimings,
  type PhaseFn,
} from './snapshot.js';
export { formatListUser, listUserCells, alignColumns, LIST_USER_COLUMNS } from './format.js';
export { createProgress, formatElapsed, type Progress } from './progress.js';
export {
  runImagePipeline,
  buildDropletRequest,
  buildDropletName,
  publicIPv4,
  BUILD_TAG,
  RUN_TAG_PREFIX,
  runTag,
  newRunId,
  BuildDropletLeftError,
  type BuildStep,
  type BuildStepContext,
  type ImagePipelineOptions,
  type ImagePipelineResult,
  type PipelineTimings,
} from './pipeline.js';
export { spawnBuildStep, findMpimgBin, waitForTcp, type SpawnBuildStepOptions } from './build-step.js';
export {
  withRunDroplet,
  runDropletStep,
  checkDropletTags,
  sshKeysFor,
  type RunDropletOptions,
  type RunDropletResult,
  type DropletInfo,
} from './droplet-run.js';
export type { DropletSession } from './step.js';
export {
  runVerifyPipeline,
  pickSize,
  usableImage,
  checkCollector,
  summarise,
  SIZES,
  VERIFY_TAG,
  type VerifyPipelineOptions,
  type VerifyPipelineResult,
} from './verify.js';
export {
  releaseBody,
  releasableImage,
  releaseToListing,
  listingDistribution,
  osVersionOf,
  writeImageRecords,
  imageFromRecords,
  IMAGES_FILE,
  type ImageRecord,
} from './release.js';
export { loadManifest } from './project.js';
export { withTokensStashed } from './child-env.js';
export type {
  Action,
  ActionStatus,
  Droplet,
  DropletSnapshot,
  Image,
  SshKey,
  CreateDropletRequest,
  NetworkV4,
  VendorApp,
  VendorAppUpdate,
  VendorSoftware,
} from './types.js';
