#!/bin/sh
# Build stage only: create /opt/venv and install build/requirements.txt into it.
#
# Wheels in /opt/build/wheelhouse are preferred (a CPU torch wheel there keeps pip from pulling
# the multi-GB CUDA packages). WHEELHOUSE_ONLY=1 installs from that wheelhouse alone, with no
# index. Certificates in /opt/build/certs/*.pem are added to pip's CA bundle, for
# TLS-intercepting proxies. TORCH_INDEX_URL, when set, is an extra index (PyTorch's wheels).
set -eu

BUILD=/opt/build
VENV=/opt/venv

python3 -m venv "$VENV"
echo "install-deps: Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())')," \
  "flavour ${FLAVOUR:-cpu}, wheelhouse only: ${WHEELHOUSE_ONLY:-0}"

set -- --no-cache-dir --disable-pip-version-check --progress-bar off \
  --find-links "$BUILD/wheelhouse"
if [ "${WHEELHOUSE_ONLY:-0}" = "1" ]; then
  set -- "$@" --no-index
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
  set -- "$@" --extra-index-url "$TORCH_INDEX_URL"
fi

bundle="$BUILD/ca-bundle.pem"
extra_certs=$(find "$BUILD/certs" -type f -name '*.pem' | sort)
if [ -n "$extra_certs" ]; then
  # pip's own bundle (certifi, or the system bundle where Debian unvendored it) plus ours.
  cat "$("$VENV/bin/python" -m pip._vendor.certifi)" >"$bundle"
  for cert in $extra_certs; do
    cat "$cert" >>"$bundle"
    echo "install-deps: pip also trusts the certificates in $cert"
  done
  set -- "$@" --cert "$bundle"
fi

"$VENV/bin/pip" install "$@" -r "$BUILD/requirements.txt"
"$VENV/bin/pip" check
rm -f "$bundle"
