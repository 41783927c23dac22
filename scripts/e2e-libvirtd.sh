#!/usr/bin/env bash
# Runs a private libvirtd (with its virtlogd) inside network namespace NS and a mount namespace of its own:
# a private /run with /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are bind mounts of
# directories under STATE, so it shares no socket, no definition and no state with the host's libvirtd.
# Clients connect with qemu+unix:///system?socket=STATE/run/libvirt-sock. Runs in the foreground until
# killed (the caller owns the process); the namespace must exist.
#   usage: e2e-libvirtd.sh NS STATE
set -euo pipefail
NS="$1"; STATE="$2"
for dir in run etc lib/images cache log/qemu; do mkdir -p "$STATE/$dir"; done
# The daemons' own configuration (qemu.conf, network defaults); no defined objects.
if [ ! -e "$STATE/etc/libvirtd.conf" ]; then
  cp -a /etc/libvirt/. "$STATE/etc/"
  rm -rf "$STATE/etc/qemu/"*.xml "$STATE/etc/qemu/networks/"*.xml "$STATE/etc/qemu/networks/autostart" "$STATE/etc/storage" 2>/dev/null || true
fi
exec ip netns exec "$NS" unshare --mount --propagation private -- bash -c '
  set -euo pipefail
  STATE="$1"
  # A private /run: the daemons pid files (/run/libvirtd.pid, /run/virtlogd.pid) must not clash either.
  mount -t tmpfs -o mode=0755 e2e-run /run
  mkdir -p /run/libvirt /run/lock
  mount --bind "$STATE/run" /run/libvirt
  mkdir -p /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
  mount --bind "$STATE/etc" /etc/libvirt
  mount --bind "$STATE/lib" /var/lib/libvirt
  mount --bind "$STATE/cache" /var/cache/libvirt
  mount --bind "$STATE/log" /var/log/libvirt
  virtlogd -d
  exec libvirtd
' e2e-libvirtd "$STATE"
