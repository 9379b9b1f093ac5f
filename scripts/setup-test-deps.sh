#!/usr/bin/env bash
# System packages the tests use beyond the Python environment: Debian's chromium, for the test that
# opens the run report in a real headless browser (tests/report). Idempotent: does nothing when a
# Chromium is already installed. Without root or apt-get it says so and the browser test is skipped.
set -uo pipefail
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then
    exit 0
  fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-test-deps: Chromium is not installed and cannot be installed here (needs root and apt-get);" \
       "the report's browser test will be skipped. Install it with: sudo apt-get install chromium" >&2
  exit 0
fi
echo "setup-test-deps: installing Debian's chromium for the report's browser test ..." >&2
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
  echo "setup-test-deps: apt-get could not install chromium; the report's browser test will be skipped" >&2
fi
exit 0
