// The NVIDIA guest driver a VM needs, by how its GPU reaches it: the datacenter driver from Debian's
// non-free archive for passed-through GPUs (MIG carved in the guest where planned), the vGPU guest
// driver (not redistributable: from the spec's URL) plus licensing config for vGPU guests.
import type { Plan, PlannedVm } from "../../plan/types";
import type { ClusterSpec } from "../../spec/types";
import type { CloudConfig } from "./nocloud";

export type GuestDriver = "none" | "datacenter" | "vgpu";

export function guestDriverFor(vm: PlannedVm): GuestDriver {
  if (vm.gpus.length === 0) return "none";
  return vm.gpus.some((g) => g.kind === "mig-vgpu" || g.kind === "vgpu") ? "vgpu" : "datacenter";
}

/** MIG instances a VM carves inside the guest (attach: mig-in-guest), in planned order. */
function inGuestLayout(plan: Plan, vm: PlannedVm): string[] {
  return vm.gpus.filter((g) => g.kind === "mig-in-guest").flatMap((g) => plan.gpus.find((p) => p.id === g.gpu)?.instances.map((i) => `${i.profileId ?? i.profile}:${i.start}`) ?? []);
}

export function gpuDriverLayer(spec: ClusterSpec, plan: Plan, vm: PlannedVm): CloudConfig {
  const driver = guestDriverFor(vm);
  if (driver === "none") return {};
  if (driver === "datacenter") {
    const layout = inGuestLayout(plan, vm);
    const files = layout.length === 0 ? [] : [{
      path: "/etc/systemd/system/hyperscaler-mig.service",
      permissions: "0644",
      // GPU instances never survive a reboot: re-create the planned placements at every boot.
      content: [
        "[Unit]", "Description=Carve the planned MIG instances (hyperscaler)", "After=nvidia-persistenced.service", "",
        "[Service]", "Type=oneshot", "RemainAfterExit=yes", "ExecStart=/usr/bin/nvidia-smi -i 0 -mig 1",
        ...layout.map((placement) => `ExecStart=/usr/bin/nvidia-smi mig -i 0 -cgi ${placement} -C`), "",
        "[Install]", "WantedBy=multi-user.target", "",
      ].join("\n"),
    }];
    return {
      write_files: [
        { path: "/etc/apt/sources.list.d/debian-nonfree.sources", permissions: "0644", content: "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: contrib non-free non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" },
        ...files,
      ],
      runcmd: [
        ["apt-get", "update"],
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "linux-headers-cloud-amd64", "nvidia-driver", "firmware-misc-nonfree", "nvidia-smi"],
        ...(layout.length ? [["systemctl", "enable", "--now", "hyperscaler-mig.service"]] : []),
      ],
    };
  }
  const url = spec.global.gpu_allocation.vgpu_guest_driver_url;
  const server = spec.global.gpu_allocation.vgpu_license_server;
  return {
    write_files: [
      { path: "/etc/nvidia/gridd.conf", permissions: "0644", content: `# NVIDIA vGPU licensing (hyperscaler)\nFeatureType=1\n${server ? `ServerAddress=${server}\n` : "# ServerAddress: set gpu_allocation.vgpu_license_server, or place a client configuration token in /etc/nvidia/ClientConfigToken/\n"}` },
      { path: "/usr/local/sbin/hyperscaler-vgpu-driver", permissions: "0755", content: [
        "#!/bin/sh", "# Installs the NVIDIA vGPU guest driver from the spec's URL (not redistributable, so not in the image).", "set -eu",
        url ? `url='${url.replace(/'/g, "")}'` : "echo 'hyperscaler: no vgpu_guest_driver_url in cluster.yaml; install the NVIDIA vGPU guest driver by hand' | tee /etc/motd; exit 0",
        "# cloud-init runs this again when the VM's configuration changes: skip a driver already installed from this URL.",
        "state=${HYPERSCALER_STATE_DIR:-/var/lib/hyperscaler}; stamp=$state/vgpu-driver-url",
        "if [ \"$(cat \"$stamp\" 2>/dev/null)\" = \"$url\" ] && nvidia-smi -L >/dev/null 2>&1; then systemctl restart nvidia-gridd || true; exit 0; fi",
        "apt-get install -y linux-headers-cloud-amd64 build-essential curl",
        "curl -fsSL -o /tmp/nvidia-guest-driver \"$url\"",
        "case \"$url\" in *.deb) apt-get install -y /tmp/nvidia-guest-driver ;; *) sh /tmp/nvidia-guest-driver --silent --dkms ;; esac",
        "mkdir -p \"$state\" && printf '%s' \"$url\" > \"$stamp\"",
        "systemctl enable --now nvidia-gridd || true", "",
      ].join("\n") },
    ],
    runcmd: [["/usr/local/sbin/hyperscaler-vgpu-driver"]],
  };
}
