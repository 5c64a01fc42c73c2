# Sourced by the set-up and benchmark scripts: installs Debian packages that
# are missing, as root or through sudo. The caller defines say().

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root to run: $*"; return 1
  fi
}

# apt_install PACKAGE...: one `apt-get update` and a quiet install.
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
