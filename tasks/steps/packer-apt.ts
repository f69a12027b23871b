/** apt-get as the Packer template runs it: waits for a held dpkg lock, keeps configuration files. */
export const APT =
  'apt-get -y -q -o DPkg::Lock::Timeout=900 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';
