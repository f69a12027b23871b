/** Every recognizer, in the order they are asked about a unit (the first that answers wins). */
import type { Recognizer } from '../state.js';
import { directories, users } from './accounts.js';
import { apt } from './apt.js';
import { cleanupLines } from './cleanup-lines.js';
import { cloudInit } from './cloud-init.js';
import { fileModes } from './file-modes.js';
import { holdAtBuild, holdAtFirstBoot } from './login-hold.js';
import { movedFiles } from './moved.js';
import { passwords } from './passwords.js';
import { repositories } from './repositories.js';
import { secrets } from './secrets.js';
import { systemctlEnable } from './systemctl.js';
import { ufw } from './ufw.js';
import { writtenFiles } from './written-files.js';

export const RECOGNIZERS: ReadonlyArray<Recognizer> = [
  repositories,
  cloudInit,
  apt,
  ufw,
  systemctlEnable,
  users,
  directories,
  holdAtBuild,
  holdAtFirstBoot,
  secrets,
  passwords,
  movedFiles,
  writtenFiles,
  fileModes,
  cleanupLines,
];
