/**
 * The shell of the Packer template's record step (../steps/record.ts): the droplet's facts file, made
 * with the commands the SSH record runs (./machine.ts, ./packages.ts), and the vendor's call of
 * `mpimg record`. ./packer-facts.ts reads the file.
 */
import { shellQuote } from '../ssh/quote.js';
import { DROPLET_ID_COMMAND, KERNEL_COMMAND, OS_RELEASE_SCRIPT } from './machine.js';
import { LIST_PACKAGES_SCRIPT } from './packages.js';

/** The sections of the facts file, in order; each is `mpimg-record NAME BYTES\n` and then its bytes. */
export const SECTIONS = [
  'os-release',
  'kernel',
  'packages',
  'droplet-id',
  'started',
  'freshen-started',
  'freshen-seconds',
  'check.out',
] as const;
export type Section = (typeof SECTIONS)[number];

/** The files the template's provisioners note in the work folder ($MPIMG_WORK) for the record. */
export const NOTE = {
  started: 'started',
  freshenStarted: 'freshen-started',
  freshenSeconds: 'freshen-seconds',
  check: 'check.out',
};
/** ISO 8601 UTC, as the SSH record's times (to the second). */
export const UTC_NOW = 'date -u +%Y-%m-%dT%H:%M:%SZ';

/**
 * The vendor's part (shell-local; `set -- OPTION FILE` before it, MPIMG_PROJECT in its environment): the project's
 * own generator-mpimg, else an mpimg on PATH, as the Makefile finds it.
 */
export const RECORD_LOCAL_SCRIPT = [
  // $1 the option, $2 the file: Packer may give it relative to where it runs (path.root "."), which
  // is where shell-local starts, not the project.
  'f=$2; case $f in /*) ;; *) f=$PWD/$f ;; esac',
  'cd "$MPIMG_PROJECT"',
  'if [ -x node_modules/.bin/mpimg ]; then m=node_modules/.bin/mpimg; elif command -v mpimg >/dev/null 2>&1; then m=mpimg; else',
  '  echo "mpimg is not installed in the project $MPIMG_PROJECT: run npm install there, then build again (the build record needs it)" >&2; exit 127',
  'fi',
  '"$m" record "$1" "$f"',
].join('\n');

/**
 * The droplet's part (POSIX sh; MPIMG_ROOT the root, MPIMG_WORK the build's work folder): the facts
 * file $MPIMG_WORK/record-facts. Every value is a file's bytes, never a word of a command.
 */
export const FACTS_SCRIPT = [
  'd=$MPIMG_WORK/record',
  'rm -rf "$d" && mkdir -m 0700 "$d"',
  `sh -c ${shellQuote(OS_RELEASE_SCRIPT)} mpimg-os "$MPIMG_ROOT" > "$d/os-release"`,
  `${KERNEL_COMMAND} > "$d/kernel"`,
  `sh -c ${shellQuote(LIST_PACKAGES_SCRIPT)} mpimg-packages "$MPIMG_ROOT" > "$d/packages"`,
  // The metadata service only on a droplet's own root, as over SSH.
  `if [ "$MPIMG_ROOT" = / ]; then sh -c ${shellQuote(DROPLET_ID_COMMAND)} > "$d/droplet-id"; else : > "$d/droplet-id"; fi`,
  `for n in ${Object.values(NOTE).join(' ')}; do if [ -f "$MPIMG_WORK/$n" ]; then cat "$MPIMG_WORK/$n"; fi > "$d/$n"; done`,
  `for n in ${SECTIONS.join(' ')}; do printf 'mpimg-record %s %s\\n' "$n" "$(wc -c < "$d/$n" | tr -d ' ')"; cat "$d/$n"; done > "$MPIMG_WORK/record-facts"`,
  'rm -rf "$d"',
  'echo "facts for the build record: $(wc -c < "$MPIMG_WORK/record-facts" | tr -d \' \') bytes"',
].join('\n');
