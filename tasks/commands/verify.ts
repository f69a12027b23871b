import { runTaskBuildStep } from './task-step.js';
import { clientFor, type DoCommandDeps } from './do-support.js';
import { createProgress } from '../do/progress.js';
import { loadManifest } from '../do/project.js';
import { COMMAND_SCOPES } from '../do/scopes.js';
import { checkCollector, runVerifyPipeline, summarise, VERIFY_TAG } from '../do/verify.js';
import type { BuildStep, PipelineTimings } from '../do/pipeline.js';
import { type MpimgError, UsageError } from '../../core/errors.js';
import { inProject, parseOptions, projectHelp, PROJECT_OPTION } from './options.js';
import type { Command } from './types.js';

const usage = `Usage: mpimg verify --image <id> [--keep] [--json]

Checks a snapshot the way a customer gets it: creates a droplet FROM the image (the smallest size
whose disk fits it, or $.droplet.size when that fits; the region of ./mpimg.json; droplet agent,
monitoring and IPv6 off; tags ${VERIFY_TAG} and mpimg-run:<id> of this run), waits for SSH and for
its first boot to finish, runs the project's \`verify\` task on it over SSH (a known_hosts file of
this run only, no API token in its environment) and destroys the droplet at the end, also when a
check fails or on Ctrl-C.

The checks, one line each: every first-boot step succeeded, the login hold is released, the MOTD
shows the droplet's IP, the credentials file is 0600, the services of $.services are active, the
firewall is active with the rules of $.firewall, the image check passes in its --booted mode, and
every command of $.verify.commands exits 0. Exit 0 when none failed, 1 otherwise.

The same checks run against any host with: mpimg run verify --host <ip> [--port N]

Options:
  --image <id>  the snapshot to verify (the id \`mpimg image\` printed)
  --keep        keep the droplet (e.g. to look at a failure); delete it yourself afterwards
  --json        print the result as JSON (the task's lines then go to stderr)
${projectHelp(16)}

Token: DIGITALOCEAN_ACCESS_TOKEN, DIGITALOCEAN_TOKEN, or doctl's config (access-token; DIGITALOCEAN_CONFIG
names another config file). A custom-scoped token needs these scopes:
  ${COMMAND_SCOPES.verify.join(', ')}
API endpoint: DIGITALOCEAN_API_URL, else api-url of doctl's config, else DigitalOcean's.
`;

export interface VerifyCommandDeps extends DoCommandDeps {
  /** Runs the verify task on the droplet; default: \`mpimg run verify --host <ip> --user root\`. */
  verify?: BuildStep;
  timings?: Partial<PipelineTimings>;
}

/** Ids are whole numbers; anything else is a slip (a name, a slug). */
export function imageIdOption(v: string | undefined, flag = '--image'): number {
  if (v === undefined)
    throw new UsageError(
      `missing ${flag} <id>`,
      `give the snapshot's id, e.g. ${flag} 123456789 (\`doctl compute image list-user\` lists them)`,
    );
  if (!/^\d{1,15}$/.test(v) || Number(v) === 0)
    throw new UsageError(
      `${flag} must be an image id (a whole number), got "${v}"`,
      'the first column of `doctl compute image list-user`',
    );
  return Number(v);
}

/** The default verify step: `mpimg run verify`, patient with SSH (a held login waits for first boot). */
export const defaultVerifyStep = (): BuildStep =>
  runTaskBuildStep({ task: 'verify', extraArgs: ['--wait-attempts', '150'] });

export function createVerifyCommand(deps: VerifyCommandDeps = {}): Command {
  return {
    name: 'verify',
    summary: 'create a droplet from a snapshot, check it after first boot, destroy it',
    usage,
    async run(argv, ctx) {
      const { values } = parseOptions(
        argv,
        { ...PROJECT_OPTION, image: { type: 'string' }, keep: { type: 'boolean' }, json: { type: 'boolean' } },
        { command: 'verify', usage },
      );
      ctx = inProject(ctx, values.project);
      const imageId = imageIdOption(values.image);
      const manifest = loadManifest(ctx.cwd);
      const client = clientFor(ctx, deps);
      const json = Boolean(values.json);
      const progress = createProgress(ctx.stderr, { isTTY: ctx.isTTY, prefix: 'mpimg verify', now: deps.clock?.now });
      const collect = checkCollector();
      const step = deps.verify ?? defaultVerifyStep();
      let failure: unknown;
      let res: Awaited<ReturnType<typeof runVerifyPipeline>> | undefined;
      try {
        res = await collect.run(() =>
          runVerifyPipeline({
            client,
            manifest,
            imageId,
            keep: Boolean(values.keep),
            now: deps.now,
            cwd: ctx.cwd,
            env: ctx.env,
            // --json keeps stdout for the JSON alone.
            stdout: json ? ctx.stderr : ctx.stdout,
            stderr: ctx.stderr,
            timings: deps.timings,
            onPhase: (p) => progress.phase(p),
            verify: async (b) => {
              progress.suspend();
              await step(b);
            },
          }),
        );
      } catch (err) {
        failure = err;
      } finally {
        progress.suspend();
      }
      const checks = collect.checks();
      const { result, summary } = summarise(checks);
      const verdict = failure ? 'fail' : result;
      if (json) {
        const e = failure as MpimgError | undefined;
        ctx.stdout.write(
          `${JSON.stringify(
            {
              image: imageId,
              result: verdict,
              summary,
              checks,
              ...(res ? { droplet: { ...res.droplet, size: res.size, destroyed: res.destroyed } } : {}),
              ...(e ? { error: e instanceof Error ? e.message : String(e) } : {}),
            },
            null,
            2,
          )}\n`,
        );
      }
      if (failure) throw failure;
      progress.done(
        `image ${imageId} verified: ${verdict === 'warn' ? 'passed with warnings' : 'passed'}${res!.destroyed ? ', droplet destroyed' : ''}`,
      );
      return 0;
    },
  };
}

export default createVerifyCommand();
