#!/usr/bin/env bash
# Build a local "slim Debian Python" base image (Debian bookworm + Debian's Python 3.11) with
# debootstrap and `docker import`, for machines that cannot pull from Docker Hub.
#
# Usage: images/bootstrap-base.sh [TAG]      (default TAG: foley-base:bookworm-python3.11)
#
# The Debian mirror is read at run time from this machine's apt configuration (set
# DEBIAN_MIRROR to override), so no mirror host name is written into the repository; the
# image's own /etc/apt/sources.list points at the same mirror. Does nothing when TAG exists.
# Needs root (debootstrap creates device nodes) and a running Docker engine.
set -euo pipefail

TAG="${1:-foley-base:bookworm-python3.11}"
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "bootstrap-base: $TAG already exists, nothing to do"
  exit 0
fi

for tool in debootstrap docker apt-get; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bootstrap-base: '$tool' is not installed (apt-get install -y debootstrap docker.io)" >&2
    exit 2
  fi
done

# $(REPO_URI) is apt's own format placeholder, not a shell expansion.
# shellcheck disable=SC2016
find_mirror() {
  # Prefer the source that serves the suite itself (not -updates / -security).
  local uri
  uri="$(apt-get indextargets --format '$(REPO_URI)' "Release: $SUITE" 'Target-Of: deb' \
    | head -n 1)"
  if [ -z "$uri" ]; then
    uri="$(apt-get indextargets --format '$(REPO_URI)' 'Target-Of: deb' \
      | grep -v -e security -e updates | head -n 1)"
  fi
  printf '%s' "$uri"
}

MIRROR="${DEBIAN_MIRROR:-$(find_mirror)}"
if [ -z "$MIRROR" ]; then
  echo "bootstrap-base: no Debian mirror in the apt configuration (run 'apt-get update'," \
    "or set DEBIAN_MIRROR to a Debian archive URL)" >&2
  exit 2
fi

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/foley-base.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

echo "bootstrap-base: debootstrap $SUITE ($PACKAGES) into $ROOTFS"
started=$(date +%s)
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1; then
  echo "bootstrap-base: debootstrap failed; last lines of its log:" >&2
  tail -n 30 "$WORK/debootstrap.log" >&2
  exit 1
fi

# Keep the image small: no package lists, caches, logs, manuals or docs (copyrights stay).
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/* \
  "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
find "$ROOTFS/usr/share/doc" -type f ! -name copyright -delete
# No service may start inside the image when packages are installed later.
printf '%s\n' "#!/bin/sh" "exit 101" >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"

echo "bootstrap-base: importing as $TAG"
tar --numeric-owner -C "$ROOTFS" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $SUITE minbase + $PACKAGES" \
  - "$TAG" >/dev/null
echo "bootstrap-base: built $TAG in $(($(date +%s) - started)) s"
