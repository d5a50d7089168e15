#!/usr/bin/env bash
# Builds ovsmesh_<version>_<arch>.deb into bin/ with dpkg-deb (make deb). The
# version comes from the VERSION file, the same one the binary prints.
# Installing the package starts nothing: the unit is neither enabled nor started
# and waits for /etc/ovsmesh/topology.yaml. It has no maintainer scripts, so
# removing it leaves the network as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(tr -d ' \n' < VERSION)
# The package's own revision (packaging changes only); the binary prints $version.
debversion=$version-1
if [ "$(head -1 packaging/changelog)" != "ovsmesh ($debversion) unstable; urgency=medium" ]; then
  echo "deb: packaging/changelog's first entry is not ovsmesh ($debversion): add one" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
go=${GO:-go}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
pkg=$root/pkg
doc=$pkg/usr/share/doc/ovsmesh

# The binary: stripped, position independent (Debian's hardening; lintian also
# takes a non-PIE Go binary for a wrongly static one), with the version.
install -d "$pkg/usr/sbin"
CGO_ENABLED=0 "$go" build -buildmode=pie -trimpath -buildvcs=false \
  -ldflags "-s -w -X github.com/ovsmesh/ovsmesh/internal/cli.version=$version" \
  -o "$pkg/usr/sbin/ovsmesh" ./cmd/ovsmesh

# The unit: the reference one, with the packaged path and a condition that keeps
# it inactive until the operator writes the topology.
install -d "$pkg/lib/systemd/system"
sed -e '/^#   /d' -e '/^# systemd unit/c\# systemd unit for ovsmesh'"'"'s reconcile loop (Debian package).' \
    -e 's|/usr/local/sbin/ovsmesh|/usr/sbin/ovsmesh|' \
    -e '/^Documentation=/a ConditionPathExists=/etc/ovsmesh/topology.yaml' \
    packaging/ovsmesh.service > "$pkg/lib/systemd/system/ovsmesh.service"
chmod 0644 "$pkg/lib/systemd/system/ovsmesh.service"
install -D -m 0644 examples/vxlan-mesh.yaml "$pkg/etc/ovsmesh/topology.yaml.example"

# Man pages and completions, generated from the command definitions.
"$go" run ./cmd/ovsmesh-docs "$root/md" "$root/man"
install -d "$pkg/usr/share/man/man8"
for page in "$root"/man/*.8; do
  gzip -9n < "$page" > "$pkg/usr/share/man/man8/$(basename "$page").gz"
done
"$go" run ./cmd/ovsmesh-docs -completions "$root/comp"
install -D -m 0644 "$root/comp/ovsmesh" "$pkg/usr/share/bash-completion/completions/ovsmesh"
install -D -m 0644 "$root/comp/_ovsmesh" "$pkg/usr/share/zsh/vendor-completions/_ovsmesh"

# Changelog and copyright.
install -d "$doc"
gzip -9n < packaging/changelog > "$doc/changelog.Debian.gz"
install -m 0644 packaging/copyright "$doc/copyright"

# Control files.
install -d "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$debversion/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  packaging/control.in > "$pkg/DEBIAN/control"
echo /etc/ovsmesh/topology.yaml.example > "$pkg/DEBIAN/conffiles"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | grep -v '^etc/' | sort |
  xargs md5sum) > "$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/"*
find "$pkg" -type d -exec chmod 0755 {} +

mkdir -p bin
out=bin/ovsmesh_${debversion}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "$out"
