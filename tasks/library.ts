// Public entry `generator-mpimg/tasks`: what an image project's mpimgfile.mjs imports.
export * from './ssh/index.js';
export * from './do/index.js';
// The standard tasks of a build, also importable alone as `generator-mpimg/tasks/standard`.
export * as standard from './standard/index.js';
// The default step of `mpimg image` / `mpimg verify` (runs `mpimg run <task>` in this process).
export { runTaskBuildStep, type RunTaskBuildStepOptions } from './commands/task-step.js';
