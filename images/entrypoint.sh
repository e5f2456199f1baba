#!/bin/sh
# Container entry point: `foley-server serve` on all interfaces with the image's baked preset.
#
#   docker run IMAGE                      serve (engine: hunyuan when weights were baked in,
#                                         procedural otherwise; FOLEY_ENGINE overrides)
#   docker run IMAGE --workers 2          extra `serve` options (they win over the defaults)
#   docker run IMAGE foley-server spot …  any other command runs instead of the server
set -eu

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
  exec "$@"
fi

engine="${FOLEY_ENGINE:-auto}"
if [ "$engine" = "auto" ]; then
  if [ -n "$(find "$FOLEY_WEIGHTS_DIR" -type f -name '*.safetensors' -print -quit 2>/dev/null)" ]; then
    engine=hunyuan
  else
    engine=procedural
  fi
fi

work_dir="${FOLEY_WORK_DIR:-/var/lib/foley}"
if ! mkdir -p "$work_dir" 2>/dev/null || [ ! -w "$work_dir" ]; then
  # Run with --user UID:GID that does not own the image's work folder: keep going in /tmp,
  # without a persistent result cache.
  echo "entrypoint: $work_dir is not writable by uid $(id -u); using a temporary work folder" >&2
  work_dir="$(mktemp -d /tmp/foley-work.XXXXXX)"
fi

set -- \
  --host 0.0.0.0 \
  --port "$FOLEY_GRPC_PORT" \
  --metrics-host 0.0.0.0 \
  --metrics-port "$FOLEY_METRICS_PORT" \
  --media-root "$FOLEY_MEDIA_ROOT" \
  --output-root "$FOLEY_OUTPUT_ROOT" \
  --work-dir "$work_dir" \
  --preset "$FOLEY_PRESET" \
  --engine "$engine" \
  "$@"
if [ "$engine" = "hunyuan" ]; then
  set -- --weights "$FOLEY_WEIGHTS_DIR" "$@"
fi
# Say first which device this container got: which GPU and how much memory, or loudly that no
# GPU is visible and the server runs on the CPU; and which preset `auto` picks there.
foley-server devices >&2 || echo "entrypoint: could not list the devices" >&2
echo "entrypoint: foley-server serve $*" >&2
exec foley-server serve "$@"
