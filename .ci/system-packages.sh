#!/usr/bin/env bash
# Install the Debian packages listed in .ci/apt-packages.txt when one is missing. Only as root
# (CI); elsewhere it says what is missing and the tests that need it skip with a reason.
set -euo pipefail
cd "$(dirname "$0")"

mapfile -t wanted < <(grep -v '^\s*#' apt-packages.txt | grep -v '^\s*$' || true)
missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "system packages missing (${missing[*]}); not root or no apt-get: the tests that need them will skip" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
