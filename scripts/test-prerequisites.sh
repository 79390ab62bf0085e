#!/usr/bin/env bash
# What the integration tests need besides node_modules: redis-server and prometheus (Debian
# packages) and the pinned LiveKit server (built from its Go module). Run before `npm test`
# and by .ci/run; quick when everything is already there.
# Where something cannot be provided (not root, no apt-get, no Go), it says so: locally the
# tests that need it skip; under CI=true this script fails, since CI must never skip them.
set -euo pipefail
cd "$(dirname "$0")/.."

unavailable() {
  echo "test prerequisites: $1" >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test prerequisites: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    unavailable "${missing[*]} missing (apt-get install ${missing[*]}); their tests skip"
  fi
fi

if command -v go >/dev/null 2>&1; then
  npm run --silent livekit-server >/dev/null
else
  unavailable "go is missing, so the LiveKit server cannot be built; its tests skip"
fi
