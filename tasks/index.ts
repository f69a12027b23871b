// Public entry `generator-mpimg/tasks`: what an image project's mpimgfile.mjs imports.
export * from './ssh/index.js';
export * from './do/index.js';
