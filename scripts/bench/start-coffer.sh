#!/usr/bin/env bash
# Starts a coffer server for ../shared/bench/compare.sh and returns once it is
# ready with a root token "root".
#   start-coffer.sh dev PORT      in memory (dev mode)
#   start-coffer.sh durable PORT  embedded file storage (fsync per write, group commit), init + unseal
# COFFER_BIN picks the binary (default target/release/coffer).
set -euo pipefail
mode=${1:?dev|durable}; port=${2:?port}
bin=${COFFER_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/coffer}
state=${BENCH_STATE:-${TMPDIR:-/tmp}/vault-bench}/coffer-$port
rm -rf "$state"; mkdir -p "$state"
addr="http://127.0.0.1:$port"
if [ "$mode" = dev ]; then
  setsid "$bin" server -dev -dev-root-token-id=root -dev-listen-address="127.0.0.1:$port" >"$state/server.log" 2>&1 < /dev/null &
else
  cat >"$state/config.hcl" <<HCL
listener "tcp" {
  address     = "127.0.0.1:$port"
  tls_disable = true
}
storage "file" {
  path = "$state/data"
}
HCL
  setsid "$bin" server -config="$state/config.hcl" >"$state/server.log" 2>&1 < /dev/null &
fi
for _ in $(seq 1 200); do
  curl -s -o /dev/null "$addr/v1/sys/seal-status" && break
  sleep 0.05
done
if [ "$mode" = durable ]; then
  init=$(curl -s -X PUT -d '{"secret_shares":1,"secret_threshold":1}' "$addr/v1/sys/init")
  key=$(printf '%s' "$init" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys_base64"][0])')
  token=$(printf '%s' "$init" | python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])')
  curl -s -o /dev/null -X PUT -d "{\"key\":\"$key\"}" "$addr/v1/sys/unseal"
  curl -s -o /dev/null -H "X-Vault-Token: $token" -d '{"id":"root","policies":["root"],"no_parent":true}' "$addr/v1/auth/token/create"
fi
curl -sf -o /dev/null -H "X-Vault-Token: root" "$addr/v1/auth/token/lookup-self"
