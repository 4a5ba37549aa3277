#!/bin/sh
# shop-api's tests (the `test` step of pipelines/release.yaml).
set -eu
here=$(dirname "$0")
[ "$("$here/shop-api" health)" = ok ] || { echo "health check failed" >&2; exit 1; }
[ "$(VERSION=1.2.3 "$here/shop-api" version)" = "shop-api 1.2.3" ] || { echo "version is wrong" >&2; exit 1; }
echo "shop-api: 2 tests passed"
