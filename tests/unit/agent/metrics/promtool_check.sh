#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# usage: promtool_check.sh <exposition_sample binary> <agent|controller> <promtool path, or empty / *-NOTFOUND>
# Pipes the sample exposition through `promtool check metrics`. Fails on a non-zero exit and on any output:
# promtool prints parse errors and lint problems (missing HELP, counter without _total, ...) one per line.
set -u -o pipefail
sample=$1
which=$2
promtool=${3:-}

if [[ -z "$promtool" || "$promtool" == *-NOTFOUND || ! -x "$promtool" ]]; then
  echo "FAIL: promtool was not found when CMake configured. Install the Debian package 'prometheus'" \
       "(scripts/install-deps), then re-run cmake." >&2
  exit 1
fi

exposition=$("$sample" "$which") || { echo "FAIL: $sample $which exited with status $?" >&2; exit 1; }
if [[ -z "$exposition" ]]; then
  echo "FAIL: $sample $which printed nothing" >&2
  exit 1
fi

report=$(printf '%s\n' "$exposition" | "$promtool" check metrics 2>&1)
status=$?
if [[ $status -ne 0 || -n "$report" ]]; then
  echo "FAIL: promtool check metrics exited $status and reported:" >&2
  echo "$report" >&2
  echo "--- exposition checked ---" >&2
  echo "$exposition" >&2
  exit 1
fi
echo "promtool check metrics ($which): $(printf '%s\n' "$exposition" | grep -c '^[^#]') samples, no problems"
