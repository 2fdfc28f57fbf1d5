#!/usr/bin/env bash
# Everything wasmforge's tests need on a fresh Debian 12 machine (run as root):
# system packages, a running Docker engine, the crun-wasm runtime, and the project venv.
# Idempotent: rerunning it only starts what is not running yet.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(
  # the project venv and its Python
  python3 python3-venv git ca-certificates
  # real parts for integration tests: engine, base-image bootstrap, registry, OCI checks
  docker.io debootstrap docker-registry skopeo podman apache2-utils openssl libprotobuf-c-dev
  # host tools for the local runner and the optimiser
  binaryen nodejs
  clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 libc++-16-dev-wasm32 libc++abi-16-dev-wasm32
  rustc cargo libstd-rust-dev-wasm32 lld-14 librust-itoa-dev
  # crate sources the tests serve as a real Cargo registry (itertools depends on either)
  librust-itertools-dev librust-either-dev
  emscripten
  # a browser for the web page test (wasmforge serve, headless)
  chromium
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "+ apt-get install ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# A Docker engine: containers get loopback only (hermetic builds); image builds use host networking.
if ! docker info >/dev/null 2>&1; then
  echo "+ starting dockerd"
  nohup dockerd --bridge=none --iptables=false >/var/log/wasmforge-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/wasmforge-dockerd.log"; exit 1; }
fi

# A real Wasm runtime for the runtime tests: crun with its wasmtime handler, run under podman.
CRUN_WASM_TOOL="${CRUN_WASM_TOOL:-$(pwd)/../shared/tools/crun-wasm}"
if [ -x "$CRUN_WASM_TOOL" ] || [ -f "$CRUN_WASM_TOOL" ]; then
  echo "+ building crun-wasm"
  bash "$CRUN_WASM_TOOL" > .ci/crun-wasm.env
  cat .ci/crun-wasm.env
else
  echo "crun-wasm tool not found at $CRUN_WASM_TOOL; runtime tests will fail under CI" >&2
fi

# The project venv, with wasmforge installed editable plus the dev tools.
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "setup done: .venv/bin/wasmforge --version -> $(.venv/bin/wasmforge --version)"
