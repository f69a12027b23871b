import { ensureDebianPackages, UNIT_PACKAGES } from './debian-packages.js';

/** The system lane's Debian packages (UNIT_PACKAGES: the name predates the lanes), installed as root when missing. */
export default function setup(): void {
  ensureDebianPackages(UNIT_PACKAGES, 'system tests');
}
