#!/usr/bin/env bash
# Re-renders kind-configs/rendered/<cluster>.yaml: `meshfed install` for the demo's two clusters, with
# the addresses setup.sh gives them on a kind docker network of 172.18.0.0/16 (docker's usual first
# user network). `npm test` fails when these files are stale; run this script to refresh them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
meshfed="$here/../bin/meshfed.js"

render() {
  local cluster="$1" address="$2"
  node "$meshfed" install --cluster "$cluster" --network "network-$cluster" --gateway-address "$address" \
    > "$here/rendered/$cluster.yaml"
  echo "rendered kind-configs/rendered/$cluster.yaml"
}

render east 172.18.255.32
render west 172.18.255.64
