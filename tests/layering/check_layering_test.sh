#!/usr/bin/env bash
# scripts/check-layering must pass the real tree and fail a tree with an
# upward include, an include of another part's internals, or an unknown part.
set -euo pipefail
check=${1:?path to scripts/check-layering}
top=${2:?source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$check" "$top" || { echo "FAIL: the real tree does not pass the layering check"; exit 1; }

expect_failure() {  # name, file, content, message expected on stderr
  rm -rf "$tmp/tree"; mkdir -p "$tmp/tree/crypto" "$tmp/tree/ferry/fs"
  printf '#include "crypto/sm3.h"\n' > "$tmp/tree/ferry/fs/ok.cc"
  mkdir -p "$(dirname "$tmp/tree/$2")"
  printf '%s\n' "$3" > "$tmp/tree/$2"
  if "$check" "$tmp/tree" 2> "$tmp/err"; then
    echo "FAIL: $1: the check passed"; exit 1
  fi
  grep -qF -- "$4" "$tmp/err" || { echo "FAIL: $1: stderr lacks '$4':"; cat "$tmp/err"; exit 1; }
  echo "ok: $1"
}

expect_failure "crypto includes ferry/fs" crypto/x.cc '#include "ferry/fs/durable_file.h"' \
  "crypto/x.cc:1: 'crypto' may not include 'ferry/fs/durable_file.h'"
expect_failure "policy includes hw" policy/p.h '  #  include <hw/link.h>' "'policy' may not include 'hw/link.h'"
expect_failure "internal header of another part" ferry/fs/y.cc '#include "crypto/src/ossl.h"' \
  "'crypto/src/ossl.h' is internal to 'crypto'"
expect_failure "unknown part" ferry/nowhere/s.cc '#include "crypto/sm3.h"' "part 'ferry/nowhere' is not in"
echo "4 passed, 0 failed"
