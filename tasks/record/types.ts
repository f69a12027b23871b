/**
 * A build record: what went into one image, written on the vendor's machine by the `record` step
 * (images/<id>/record.json, beside it the SBOM) and completed by the snapshot with the image's id.
 * docs/records.md describes the fields; `format` changes when a field changes meaning.
 */
import type { InstalledPackage, PackageDatabase } from './packages.js';

export const RECORD_FORMAT = 1;
/** The project's folder of records, one sub-folder per image (the generator's .gitignore has it). */
export const RECORDS_DIR = 'images';
export const RECORD_FILE = 'record.json';
export const SBOM_FILE = 'sbom.cdx.json';

export interface StepTiming {
  name: string;
  /** ISO 8601 UTC; absent for a timing of an older copy of the task library. */
  startedAt?: string;
  ms: number;
  ok: boolean;
}

export interface CheckSummary {
  pass: number;
  warn: number;
  fail: number;
  skip: number;
}

export interface BuildRecord {
  format: typeof RECORD_FORMAT;
  /** The record's folder name under images/: sortable by time, unique per build. */
  id: string;
  createdAt: string;
  project: {
    name: string;
    slug: string;
    version: string;
    /** $.variables with the values the bundle was made with (never a secret: those are $.secrets). */
    variables: Record<string, string>;
    /** Names only: the values are made at first boot ($.secrets) or given at build time (build.secrets). */
    secrets: string[];
    buildSecrets: string[];
    /** null when the project is not in a git repository (or git is not installed). */
    git: { commit: string; dirty: boolean } | null;
  };
  generator: { name: 'generator-mpimg'; version: string };
  build: {
    /** The SSH target the build ran on (user@host[:port]). */
    target: string;
    /** The public IPv4 the build connected to (the snapshot finds its record by it). */
    host: string;
    /** A staged root the build ran against (MPIMG_TARGET_ROOT); absent on a droplet. */
    root?: string;
    /** A Packer build's run (Packer's PACKER_RUN_UUID): its snapshot finds the record by it. Absent over SSH. */
    packerRun?: string;
    /** The droplet's id from its metadata service, when it answered. */
    dropletId: number | null;
    startedAt: string;
    finishedAt: string;
    steps: StepTiming[];
    /** The review-day upgrade (the freshen step) of this build, or null when it did not run. */
    freshen: { startedAt?: string; ms: number } | null;
    /** The image check's counts from its Summary line, or null when the check did not run in this build. */
    check: CheckSummary | null;
  };
  base: {
    /** The base image: mpimg.json's droplet.image (a slug or an image id), else the distribution's slug. */
    image: string;
    /** The base image's id, when the DigitalOcean API gave it (set by the snapshot). */
    imageId: number | null;
  };
  system: {
    /** The distribution's slug (debian-12-x64), its os-release ID and VERSION_ID and PRETTY_NAME. */
    distribution: string;
    id: string;
    versionId: string;
    prettyName: string;
    family: 'apt' | 'dnf';
    kernel: string;
  };
  packages: { database: PackageDatabase | null; count: number; list: InstalledPackage[] };
  snapshot: { id: number; name: string; at: string } | null;
}
