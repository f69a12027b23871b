import { imageScenarios } from './scenarios.js';

// Debian 12, cloud-init 22.4: Node 18 from Debian in the droplet, so the .cjs bundle installs;
// also the one boot with systemd as PID 1.
imageScenarios({ suite: 'bookworm', node: true, systemdBoot: true });
