import { Connection, type ConnectionOptions } from './connection.js';
import { waitForSsh, type WaitForSshOptions } from './wait.js';

export interface ConnectOptions extends ConnectionOptions {
  /** Bounded wait for SSH to come up; false to try once. */
  wait?: WaitForSshOptions | false;
}

/** Opens a connection (waiting for SSH with bounded retries). Close it with `c.close()`. */
export async function connect(opts: ConnectOptions): Promise<Connection> {
  const c = new Connection(opts);
  try {
    await waitForSsh(c, opts.wait === false ? { attempts: 1 } : { signal: opts.signal, ...opts.wait });
  } catch (err) {
    c.close();
    throw err;
  }
  return c;
}
