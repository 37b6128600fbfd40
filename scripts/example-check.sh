#!/usr/bin/env bash
# Builds and runs Examples/FreeLBClient, a package that depends on this one by URL and version, against
# a tagged clone of the committed HEAD (a file:// URL: offline), and checks that the README's custom
# method is the example's source, so the README code compiles. Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
version=0.1.0
work=$(mktemp -d /tmp/freelb-example-XXXX)
trap 'rm -rf "$work"' EXIT

# The README's "Custom methods" code block is the example's FreeLBWithCleanLoss.swift, line for line.
awk '/^## Custom methods/ { section = 1 } section && /^```swift/ { inside = 1; next } inside && /^```/ { exit } inside' README.md \
    > "$work/readme-method.swift"
if ! diff -u Examples/FreeLBClient/Sources/FreeLBClient/FreeLBWithCleanLoss.swift "$work/readme-method.swift"; then
    echo "example-check: README's custom method differs from Examples/FreeLBClient (above)"; exit 1
fi

git clone -q "$root" "$work/freelb-swift"
git -C "$work/freelb-swift" tag -f "$version" > /dev/null
cp -R Examples/FreeLBClient "$work/client"
rm -rf "$work/client/.build"
cd "$work/client"
FREELB_PACKAGE_URL="file://$work/freelb-swift" swift build -q
.build/debug/FreeLBClient "$root/Tests/FreeLBTests/Resources/tiny-bert"
echo "example-check: Examples/FreeLBClient built against freelb-swift $version and ran"
