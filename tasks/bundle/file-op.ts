import { createHash } from 'node:crypto';
import type { Op } from '../../runtime/plan.js';

/** A plan's file operation: the bytes (base64) and their sha256, which the executors check. */
export function fileOp(p: string, mode: number, data: Buffer | string): Op {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    kind: 'file',
    path: p,
    mode,
    content: buf.toString('base64'),
    sha256: createHash('sha256').update(buf).digest('hex'),
  };
}
