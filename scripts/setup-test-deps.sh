#!/usr/bin/env bash
# System packages the tests use beyond the Python environment, from Debian's registry:
#   chromium   - the test that opens the run report in a real headless browser (tests/report)
#   espeak-ng  - the offline speech synthesiser of correspondence retrieval's spoken-digits data set
# Idempotent: installs only what is missing. Without root or apt-get it says so, and the tests that
# need a missing program are skipped with a message.
set -uo pipefail

# package -> the commands any of which shows it is installed
declare -A PROVIDES=(
  [chromium]="chromium chromium-browser google-chrome"
  [espeak-ng]="espeak-ng"
)

missing=()
for package in chromium espeak-ng; do
  found=0
  for name in ${PROVIDES[$package]}; do
    command -v "$name" >/dev/null 2>&1 && found=1 && break
  done
  [ "$found" = 1 ] || missing+=("$package")
done
[ "${#missing[@]}" = 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-deps: ${missing[*]} not installed and cannot be installed here (needs root and apt-get);" \
       "the tests that need them will be skipped. Install with: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "setup-test-deps: installing Debian's ${missing[*]} for the tests ..." >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
  echo "setup-test-deps: apt-get could not install ${missing[*]}; the tests that need them will be skipped" >&2
fi
exit 0
