import { MpimgError } from '../../core/errors.js';

/** An answer of the DigitalOcean API that we give up on. Never carries the token. */
export class DoApiError extends MpimgError {
  readonly status: number;
  /** The API's error id, e.g. `not_found`, `unprocessable_entity`, `too_many_requests`. */
  readonly apiId?: string;
  readonly requestId?: string;
  /** A request that changes something failed in a way that leaves open whether DigitalOcean carried it out. */
  readonly unknownEffect: boolean;
  constructor(
    message: string,
    opts: {
      status: number;
      apiId?: string;
      requestId?: string;
      where?: string;
      hint?: string;
      unknownEffect?: boolean;
    },
  ) {
    super(message, { where: opts.where, hint: opts.hint });
    this.name = 'DoApiError';
    this.status = opts.status;
    this.apiId = opts.apiId;
    this.requestId = opts.requestId;
    this.unknownEffect = opts.unknownEffect ?? false;
  }
}

/** The user pressed Ctrl-C (or the caller aborted): exit code 130 like a shell. */
export class AbortedError extends MpimgError {
  constructor(message = 'aborted') {
    super(message, { exitCode: 130 });
    this.name = 'AbortedError';
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof AbortedError || (err instanceof Error && err.name === 'AbortError');
}
