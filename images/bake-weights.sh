#!/bin/sh
# Build stage only: convert a HunyuanVideo-Foley weights directory into safetensors of one dtype.
#
# Usage: bake-weights.sh SRC DST DTYPE
# SRC holding nothing but build.py's NO-WEIGHTS marker means "no weights": DST is created empty
# and the image serves the procedural engine. The conversion is `foley-server weights convert`
# then `weights verify`, run from the converter's source in /opt/build/src (the code is
# installed only in a later stage).
set -eu

if [ "$#" -ne 3 ]; then
  echo "usage: bake-weights.sh SRC DST DTYPE" >&2
  exit 2
fi
src=$1
dst=$2
dtype=$3

if [ -z "$(find "$src" -type f ! -name NO-WEIGHTS -print -quit)" ]; then
  mkdir -p "$dst"
  echo "bake-weights: no weights given; the image will run the procedural engine"
  exit 0
fi

foley_server() {
  PYTHONPATH=/opt/build/src /opt/venv/bin/python -m plugin_server.cli --log-level WARNING "$@"
}

echo "bake-weights: converting $src to $dtype safetensors in $dst"
foley_server weights convert "$src" "$dst" --dtype "$dtype"
if [ -z "$(find "$dst" -type f -name '*.safetensors' -print -quit)" ]; then
  echo "bake-weights: the conversion wrote no .safetensors file into $dst" >&2
  exit 1
fi
# Checks keys, shapes, dtypes and the SHA256SUMS the conversion wrote.
foley_server weights verify "$dst"
# Root-owned and read-only for the image's user: the converter writes 0600 files.
chmod -R a+rX,go-w "$dst"
du -sh "$dst"
