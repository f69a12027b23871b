export { Connection } from './connection.js';
export { BASE_ENV } from './options.js';
export type { ConnectionOptions, RunOptions, RunResult, TransferOptions, HostKeyPolicy } from './options.js';
export { CommandError, CommandTimeoutError, HostKeyError, SshError } from './errors.js';
export { task, series, isTask, collectTasks, TASK_MARK, TASK_NAME_RE } from './task.js';
export type { Task, TaskFn } from './task.js';
export { waitForSsh, waitCloudInit, parseCloudInitStatus, CLOUD_INIT_TIMEOUT_ENV } from './wait.js';
export type { WaitForSshOptions, WaitCloudInitOptions, CloudInitState } from './wait.js';
export { loadTaskFile, TASK_FILE } from './taskfile.js';
export { shellQuote } from './quote.js';
export { formatTimings, formatDuration } from './output.js';
export type { TaskTiming } from './output.js';
export { connect } from './connect.js';
export type { ConnectOptions } from './connect.js';
export {
  TaskError,
  fail,
  withRemoteTempDir,
  packageManager,
  upgradePackages,
  installPackages,
  remoteNodeMajor,
} from './helpers.js';
export type { PackageManager } from './helpers.js';
// For a task that really needs the API token: `mpimg run` keeps it out of process.env (and so out of
// every child process) while tasks run.
export { apiToken } from '../secrets.js';
