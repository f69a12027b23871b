# mpimg_slug ID VERSION_ID: the DigitalOcean image slug of a distribution (os-release's ID, lower
# case, and VERSION_ID), e.g. ubuntu-24-04-x64, debian-12-x64, rockylinux-9-x64. The node twin is
# distroFromOsRelease in runtime/distro.ts; build.sh and the sh installer share this one.
mpimg_slug() {
  case $1 in
    ubuntu) printf 'ubuntu-%s-x64\n' "$(printf '%s' "$2" | tr . -)" ;;
    debian) printf 'debian-%s-x64\n' "${2%%.*}" ;;
    rocky) printf 'rockylinux-%s-x64\n' "${2%%.*}" ;;
    almalinux) printf 'almalinux-%s-x64\n' "${2%%.*}" ;;
    centos) printf 'centos-stream-%s-x64\n' "${2%%.*}" ;;
    *) printf '%s-%s-x64\n' "$1" "${2%%.*}" ;;
  esac
}
