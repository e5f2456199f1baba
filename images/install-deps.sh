#!/bin/sh
# Build stages only: install the locked third-party packages, every wheel checked by its hash.
#
#   install-deps.sh torch      PyTorch (and, CUDA flavour, its nvidia-*/triton wheels) into
#                              /opt/torch, from /opt/build/lock/torch.txt, without headers or
#                              static libraries: the family's largest and most stable layer
#   install-deps.sh packages   /opt/venv with everything else, from /opt/build/lock/common.txt;
#                              /opt/torch is on its path through a .pth file
#
# Wheels in /opt/build/wheelhouse are preferred (PyTorch's CPU wheel lies there for the CPU
# flavour); the lock's hashes decide which file of a version may be installed. WHEELHOUSE_ONLY=1
# installs from that wheelhouse alone, with no index. Certificates in /opt/build/certs/*.pem are
# added to pip's CA bundle, for TLS-intercepting proxies. TORCH_INDEX_URL, when set, is an extra
# index (PyTorch's own wheels).
set -eu

PART="${1:?usage: install-deps.sh torch|packages}"
BUILD=/opt/build
VENV=/opt/venv
TORCH=/opt/torch

if [ "$PART" = "torch" ]; then
  # A throwaway venv only to run pip; the packages go to /opt/torch with --target.
  PIP_VENV=/tmp/pip-venv
else
  PIP_VENV=$VENV
fi
python3 -m venv "$PIP_VENV"
echo "install-deps: $PART, Python $("$PIP_VENV/bin/python" -c 'import platform; print(platform.python_version())')," \
  "flavour ${FLAVOUR:-cpu}, wheelhouse only: ${WHEELHOUSE_ONLY:-0}"

set -- --no-cache-dir --disable-pip-version-check --progress-bar off --no-compile \
  --require-hashes --no-deps --find-links "$BUILD/wheelhouse"
if [ "${WHEELHOUSE_ONLY:-0}" = "1" ]; then
  set -- "$@" --no-index
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
  set -- "$@" --extra-index-url "$TORCH_INDEX_URL"
fi

bundle="$BUILD/ca-bundle.pem"
extra_certs=$(find "$BUILD/certs" -type f -name '*.pem' | sort)
if [ -n "$extra_certs" ]; then
  # pip's own bundle (certifi, or the system bundle where Debian unvendored it) plus ours.
  cat "$("$PIP_VENV/bin/python" -m pip._vendor.certifi)" >"$bundle"
  for cert in $extra_certs; do
    cat "$cert" >>"$bundle"
    echo "install-deps: pip also trusts the certificates in $cert"
  done
  set -- "$@" --cert "$bundle"
fi

case "$PART" in
  torch)
    "$PIP_VENV/bin/pip" install "$@" --target "$TORCH" -r "$BUILD/lock/torch.txt"
    # Nothing in the image compiles: C/C++ headers, static libraries and CMake files are dead
    # weight (several hundred MB with the CUDA wheels).
    find "$TORCH" -depth -type d \( -name include -o -name cmake \) -exec rm -rf {} +
    find "$TORCH" -type f \( -name '*.a' -o -name '*.h' -o -name '*.hpp' -o -name '*.cuh' \) \
      -delete
    rm -rf "$PIP_VENV"
    echo "install-deps: /opt/torch holds $(du -sh "$TORCH" | cut -f1)"
    ;;
  packages)
    site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "$TORCH" >"$site_packages/00-foley-torch.pth"
    "$VENV/bin/pip" install "$@" -r "$BUILD/lock/common.txt"
    "$VENV/bin/pip" check
    # As for PyTorch: headers and static libraries some wheels carry (lxml, numpy) serve only
    # to compile against them.
    find "$VENV" -type f \( -name '*.a' -o -name '*.h' -o -name '*.hpp' \) -delete
    ;;
  *)
    echo "install-deps: unknown part $PART (torch or packages)" >&2
    exit 2
    ;;
esac
rm -f "$bundle"
