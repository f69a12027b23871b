/** wait-boot: the build starts once cloud-init has finished the droplet's first boot. */
import { waitCloudInit } from '../ssh/wait.js';
import { defineStep } from './define.js';

// A droplet where cloud-init never finishes fails clearly, after the template's cloud_init_timeout.
const WAIT = String.raw`"n=0; while :; do s=$(cloud-init status 2>/dev/null | sed -n 's/^status: //p'); case $s in done) exit 0 ;; error | disabled) echo \"cloud-init: $s\" >&2; cloud-init status --long >&2 || true; exit 1 ;; esac; [ $n -lt $LIMIT ] || { echo \"cloud-init still '$s' after $LIMIT s\" >&2; exit 1; }; sleep 5; n=$((n + 5)); done"`;

export default defineStep({
  name: 'wait-boot',
  summary: 'wait (bounded) until cloud-init has finished the first boot',
  sections: [],
  run: (c) => waitCloudInit(c),
  packerPhase: 'boot',
  packer: () => [
    {
      type: 'shell',
      env: ['"LIMIT=${var.cloud_init_timeout}"'],
      inline: ['"command -v cloud-init >/dev/null 2>&1 || exit 0"', WAIT],
    },
  ],
});
