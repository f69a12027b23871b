/**
 * The installed packages of the machine being built, read from its own package database: dpkg's
 * status on apt systems, the rpm database on dnf ones; under a staged root (MPIMG_TARGET_ROOT) the
 * root's database (`dpkg-query --admindir`, `rpm --root`), as the other steps read that root.
 */
import { shellQuote } from '../ssh/quote.js';

export interface InstalledPackage {
  name: string;
  /** The full version as the package manager has it: dpkg [epoch:]upstream[-revision], rpm [epoch:]version-release. */
  version: string;
  arch: string;
}

export type PackageDatabase = 'dpkg' | 'rpm';

/** Tab-separated: database, name, version, architecture, and (dpkg) the status word of the package. */
const DPKG_FORMAT = 'dpkg\\t${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Status}\\n';
// rpm's epoch only when the package has one; gpg-pubkey entries are keys, not software (left out).
const RPM_FORMAT = 'rpm\\t%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\tinstalled\\n';

/**
 * A POSIX-sh script printing the packages of the root given as $1 in the format above, or nothing when
 * the root has neither database (the caller says so). dpkg first: a Debian system may carry rpm as a
 * tool. One text for both builds: run over SSH (listPackagesCommand) and by the Packer template's
 * record step on the droplet (./packer-facts.ts).
 */
export const LIST_PACKAGES_SCRIPT = [
  'r=${1%/}',
  'if [ -f "$r/var/lib/dpkg/status" ] && command -v dpkg-query >/dev/null 2>&1; then',
  "  printf 'database\\tdpkg\\n'",
  `  dpkg-query --admindir="$r/var/lib/dpkg" -W -f ${shellQuote(DPKG_FORMAT)}`,
  'elif command -v rpm >/dev/null 2>&1 && { [ -d "$r/var/lib/rpm" ] || [ -d "$r/usr/lib/sysimage/rpm" ]; }; then',
  "  printf 'database\\trpm\\n'",
  `  rpm --root "\${r:-/}" -qa --qf ${shellQuote(RPM_FORMAT)}`,
  'fi',
].join('\n');

/** The command printing the packages of `root` (LIST_PACKAGES_SCRIPT with the root as its $1). */
export function listPackagesCommand(root: string): string {
  return `sh -c ${shellQuote(LIST_PACKAGES_SCRIPT)} mpimg-packages ${shellQuote(root)}`;
}

/** The installed packages in the listing of listPackagesCommand, sorted by name, version, architecture. */
export function parsePackageList(text: string): { database: PackageDatabase | null; packages: InstalledPackage[] } {
  let database: PackageDatabase | null = null;
  const packages: InstalledPackage[] = [];
  for (const line of text.split('\n')) {
    const [db, name, version, arch, status] = line.split('\t');
    if (db === 'database' && (name === 'dpkg' || name === 'rpm')) database = name;
    if ((db !== 'dpkg' && db !== 'rpm') || !name || version === undefined) continue;
    // dpkg also lists packages removed with their configuration kept (config-files) or only known
    // (not-installed): they are not in the image.
    if (status !== 'installed') continue;
    if (db === 'rpm' && name === 'gpg-pubkey') continue;
    packages.push({ name, version, arch: arch ?? '' });
  }
  packages.sort((a, b) => cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.arch, b.arch));
  return { database, packages };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
