#!/usr/bin/env bash
# Deletes what kind-configs/setup.sh made: its kind clusters (east, west, cluster3..cluster6; with
# them everything installed in them) and its work folder (generated kind configs, the demo's CA keys,
# rendered manifests, logs). Safe to run again, and after a setup that failed half-way.
#
#   kind-configs/teardown.sh [--keep-work]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${MESHFED_KIND_WORK:-$here/.work}"
keep_work=0

log() { printf 'teardown: %s\n' "$*" >&2; }
fail() {
  printf 'teardown: FAILED: %s\n' "$1" >&2
  if [ -n "${2:-}" ]; then printf 'teardown: what to do: %s\n' "$2" >&2; fi
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --keep-work) keep_work=1; shift ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument $1" "kind-configs/teardown.sh [--keep-work]" ;;
  esac
done
command -v kind >/dev/null 2>&1 || fail "kind is not on PATH" "install kind, or delete the clusters with docker rm -f <name>-control-plane"

existing="$(kind get clusters 2>/dev/null || true)"
for name in east west cluster3 cluster4 cluster5 cluster6; do
  if grep -qx "$name" <<<"$existing"; then
    kind delete cluster --name "$name" >/dev/null || fail "kind delete cluster --name $name failed" "docker rm -f $name-control-plane, then run this script again"
    log "deleted cluster $name"
  fi
done
if [ "$keep_work" = 0 ] && [ -d "$work" ]; then
  rm -rf "$work"
  log "removed $work"
fi
log "done"
