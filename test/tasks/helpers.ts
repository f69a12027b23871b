import { PassThrough } from 'node:stream';
import { Connection, type ConnectionOptions } from '../../tasks/ssh/connection.js';
import type { Sshd } from '../helpers/sshd.js';

/** Captures everything written to it, for asserting on streamed output. */
export class Capture extends PassThrough {
  text = '';
  constructor() {
    super();
    this.on('data', (d) => {
      this.text += String(d);
    });
  }
}

/** A Connection to the test sshd that never touches ~/.ssh (own config and known_hosts). */
export function connectTo(
  sshd: Sshd,
  extra: Partial<ConnectionOptions> = {},
): { c: Connection; out: Capture; err: Capture } {
  const out = new Capture();
  const err = new Capture();
  const c = new Connection({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    sshConfigFile: sshd.clientConfigFile,
    stdout: out,
    stderr: err,
    ...extra,
  });
  return { c, out, err };
}
