#!/usr/bin/env bash
# Installs the Debian packages Yibiao needs when they are missing. Safe to run again.
set -euo pipefail

# chromium: headless, to check in tests that the HTML report is drawn. gdb: the test watchdog
# writes the stacks of a stalled test process.
packages=(postgresql libpq-dev libssl-dev libxml2-dev util-linux curl unzip ca-certificates tmux python3 openssl chromium gdb)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup: these Debian packages are missing: ${missing[*]}" >&2
    echo "setup: install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian's package starts a system cluster on port 5432; Yibiao runs its own, so leave
  # that one alone but make sure it does not matter either way.
fi

if ! command -v swift >/dev/null; then
  echo "setup: the Swift toolchain (6.1 or later) is not on PATH; install it from swift.org" >&2
  exit 1
fi

# Public record-linkage benchmarks the matching tests measure against (not part of the product).
"$(dirname "$0")/fetch-febrl.sh"
