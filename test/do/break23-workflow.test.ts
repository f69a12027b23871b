/**
 * The weekly refresh's choice of the records artifact (mpimg-listing-<appId>), run with bash and jq as
 * the generated workflow's records step has it. GitHub lists every artifact of that name in the
 * repository, also those of pull_request runs from forks, whose workflow the fork's author writes: the
 * newest one must not be a fork's, or an outside contributor picks the image the refresh checks (one
 * without pending updates, and the real listing is never rebuilt).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { steps } from './workflow-support.js';

const WORKFLOW = readFileSync(join(import.meta.dirname, '../../templates/project/github/workflows/image.yml'), 'utf8');

/** The records step's own line that picks the artifact's download URL from the API's list. */
function pick(list: unknown): string {
  const run = steps(WORKFLOW).find((s) => s.job === 'refresh' && s.id === 'records')?.run ?? '';
  const line = run.split('\n').find((l) => l.trim().startsWith('url=$(jq'));
  expect(line).toBeDefined();
  const r = spawnSync('bash', ['-e', '-c', `list=$1\n${line}\nprintf %s "$url"`, 'bash', JSON.stringify(list)], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const artifact = (id: number, created: string, head: number, expired = false) => ({
  id,
  name: 'mpimg-listing-abc',
  expired,
  created_at: created,
  archive_download_url: `https://api.github.invalid/artifacts/${id}/zip`,
  workflow_run: { id: id * 10, repository_id: 1000, head_repository_id: head, head_branch: 'main', head_sha: 'x' },
});

describe('the refresh picks the records artifact', () => {
  it("takes the newest of the repository's own runs, never a fork's", () => {
    const list = {
      total_count: 3,
      artifacts: [
        artifact(1, '2026-03-01T00:00:00Z', 1000),
        artifact(2, '2026-03-02T00:00:00Z', 1000),
        artifact(3, '2026-03-09T00:00:00Z', 4242), // a fork's pull request, newer
      ],
    };
    expect(pick(list)).toBe('https://api.github.invalid/artifacts/2/zip');
  });

  it('none of its own: nothing (the step then says to release once from a tag)', () => {
    expect(pick({ total_count: 1, artifacts: [artifact(3, '2026-03-09T00:00:00Z', 4242)] })).toBe('');
  });
});
