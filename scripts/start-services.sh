#!/usr/bin/env bash
# Starts the daemons the integration tests talk to (libvirtd, munged) when they are not running.
# Containers have no systemd, so the daemons are started directly.
set -euo pipefail

if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  echo "start-services: starting virtlogd and libvirtd"
  mkdir -p /run/libvirt /var/lib/libvirt/images
  pgrep -x virtlogd >/dev/null || virtlogd -d || true
  pgrep -x libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 50); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
  virsh -c qemu:///system version >/dev/null || { echo "start-services: libvirtd did not come up" >&2; exit 1; }
fi

# Probe munged by round-tripping a credential: a socket file can outlive its daemon (a machine restored
# from a snapshot keeps /run), and a stale socket refuses connections.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "start-services: starting munged"
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 0400 /etc/munge/munge.key; chmod 0700 /etc/munge
  if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "munged" || munged --force
  else
    munged --force
  fi
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
  munge -n | unmunge >/dev/null || { echo "start-services: munged did not come up" >&2; exit 1; }
fi
