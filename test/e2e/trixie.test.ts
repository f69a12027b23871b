import { imageScenarios } from './scenarios.js';

// Debian 13, cloud-init 25.1: no Node in the droplet, so the POSIX sh installer installs;
// also a boot with systemd 257 as PID 1.
imageScenarios({ suite: 'trixie', node: false, systemdBoot: true });
