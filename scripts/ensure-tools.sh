#!/usr/bin/env bash
# Makes sure the real `consul` and `prometheus` binaries are available to the test suite.
#
# The tools folder is the user's, outside any package: $MESHFED_TOOLS_DIR, else
# $XDG_CACHE_HOME/meshfed/tools (~/.cache/meshfed/tools). `meshfed tools install` runs this script
# with MESHFED_TOOLS_DIR set to the folder meshfed itself searches.
#
# Order of preference: the binary on PATH, then one already unpacked into <tools>/bin, then a fresh
# download of the Debian package into a private apt folder under <tools>/ (never touching the
# system's apt state), unpacked with `dpkg -x`. Consul 1.8.7 comes from Debian 11 (bullseye), as it
# is not in later releases; Prometheus comes from the machine's own release. The mirror address is
# read from the machine's own Debian source file. When none of this is possible the script stops
# with a message saying how to install the tools; it never lets the tests skip them.
set -euo pipefail

cache=${XDG_CACHE_HOME:-}
case "$cache" in /*) ;; *) cache="$HOME/.cache" ;; esac
tools=${MESHFED_TOOLS_DIR:-$cache/meshfed/tools}
bin="$tools/bin"
mkdir -p "$bin"

die() {
  echo "meshfed: $*" >&2
  echo "meshfed: install Consul (1.8+) and Prometheus so that \`consul\` and \`prometheus\` are on PATH," >&2
  echo "meshfed: or run on Debian with apt available so that \`meshfed tools install\` can fetch them into $tools." >&2
  exit 1
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "$bin/$1" ]; }

debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    # deb822 style: "URIs: <mirror>" on the stanza that is not the security archive.
    local uri
    uri=$(grep -E '^\s*URIs:' "$f" 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
    if [ -z "$uri" ]; then
      uri=$(grep -E '^\s*deb\s' "$f" 2>/dev/null | awk '{print $2}' | grep -v security | grep -i debian | head -n1 || true)
    fi
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  return 1
}

# fetch_deb <suite> <package> <binary-path-inside-package>
fetch_deb() {
  local suite=$1 pkg=$2 inner=$3
  local apt="$tools/apt-$suite"
  local mirror
  mirror=$(debian_mirror) || die "no Debian source file found to take a mirror from (is this Debian?)"
  command -v apt-get >/dev/null || die "apt-get is not available"
  command -v dpkg >/dev/null || die "dpkg is not available"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/etc/preferences.d" "$apt/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$apt/etc/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$apt/etc/sources.list" -o "Dir::Etc::SourceParts=-"
    -o "Dir::Etc::Preferences=$apt/etc/preferences" -o "Dir::Etc::PreferencesParts=$apt/etc/preferences.d"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Get::List-Cleanup=0"
    -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  echo "meshfed: fetching $pkg from Debian $suite into $tools" >&2
  apt-get -qq "${opts[@]}" update >&2 || die "apt-get update for $suite failed"
  (cd "$apt/debs" && apt-get -qq "${opts[@]}" download "$pkg" >&2) || die "apt-get download $pkg failed"
  local deb
  deb=$(ls -t "$apt/debs/${pkg}"_*.deb)
  deb=${deb%%$'\n'*}
  rm -rf "$tools/pkg-$pkg" && mkdir -p "$tools/pkg-$pkg"
  dpkg -x "$deb" "$tools/pkg-$pkg"
  ln -sf "$tools/pkg-$pkg/$inner" "$bin/$(basename "$inner")"
  [ -x "$bin/$(basename "$inner")" ] || die "$pkg unpacked but $inner is missing"
}

# shellcheck source=/dev/null
release=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")

if ! have consul; then
  fetch_deb bullseye consul usr/bin/consul
fi
if ! have prometheus; then
  [ -n "$release" ] || die "cannot tell this machine's Debian release"
  fetch_deb "$release" prometheus usr/bin/prometheus
  ln -sf "$tools/pkg-prometheus/usr/bin/promtool" "$bin/promtool"
fi

consul_bin=$(command -v consul 2>/dev/null || echo "$bin/consul")
prom_bin=$(command -v prometheus 2>/dev/null || echo "$bin/prometheus")
# Read the whole output before cutting it: `| head -n1` would let SIGPIPE fail the check under pipefail.
consul_version=$("$consul_bin" version) || die "consul does not run"
prom_version=$("$prom_bin" --version 2>&1) || die "prometheus does not run"
echo "${consul_version%%$'\n'*}" >&2
echo "${prom_version%%$'\n'*}" >&2
