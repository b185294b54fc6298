#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (a cached
# Python venv with the real OpenBao CLI, hvac and the fixtures' packages),
# then fmt, clippy, the Rust tests and the compatibility suite against the
# real clients and the real OpenBao.
#
#   scripts/test.sh            everything
#   scripts/test.sh --quick    skip fmt/clippy
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1

cache="${COFFER_CACHE:-$HOME/.cache/coffer}"
export COFFER_TEST_VENV="${COFFER_TEST_VENV:-$cache/venv}"
mkdir -p "$cache"

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. Python venv with pinned test clients, re-created when requirements change.
python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
# gpg and ssh-keygen: the SOPS tests make PGP and SSH keys; openssl: TLS test certificates.
apt_install gnupg openssh-client openssl curl
reqs=$(cat tests/compat/requirements*.txt crates/*/tests/requirements.txt 2>/dev/null | sort -u)
stamp=$(printf '%s' "$reqs" | sha256sum | cut -c1-16)
if [ ! -f "$COFFER_TEST_VENV/.coffer-stamp-$stamp" ]; then
  step "preparing the test venv at $COFFER_TEST_VENV"
  [ -x "$COFFER_TEST_VENV/bin/python" ] || python3 -m venv "$COFFER_TEST_VENV"
  "$COFFER_TEST_VENV/bin/pip" install -q --disable-pip-version-check $(printf '%s\n' "$reqs" | grep -v '^#' | tr '\n' ' ')
  rm -f "$COFFER_TEST_VENV"/.coffer-stamp-*
  touch "$COFFER_TEST_VENV/.coffer-stamp-$stamp"
fi

# 2. Lints.
if [ $quick -eq 0 ]; then
  step "cargo fmt --check"
  cargo fmt --all -- --check
  step "cargo clippy"
  cargo clippy --workspace --all-targets --quiet -- -D warnings
fi

# 3. Rust unit and integration tests (debug builds). Some crates' tests drive the
#    coffer binary (a live server), so it is built first.
step "cargo build"
cargo build --workspace --quiet
export COFFER_BIN="$PWD/target/debug/coffer"
step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

# 4. Compatibility suite: real bao CLI, hvac, OpenBao as the oracle.
step "compatibility suite (bao CLI, hvac, differential against OpenBao)"
cd tests/compat
"$COFFER_TEST_VENV/bin/python" -m pytest -q -p no:cacheprovider
