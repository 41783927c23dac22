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
function inGuestLayout(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">, vm: PlannedVm): string[] {
  return vm.gpus
    .filter((g) => g.kind === "mig-in-guest")
    .flatMap(
      (g) =>
        plan.gpus.find((p) => p.id === g.gpu)?.instances.map((i) => `${i.profileId ?? i.profile}:${i.start}`) ?? [],
    );
}

/** Headers of the kernel the guest runs (Debian's generic cloud image kernel, whatever its ABI). */
export const RUNNING_KERNEL_HEADERS = '"linux-headers-$(uname -r)"';

/**
 * The vGPU guest driver installer: downloads into a private directory, refuses a file whose SHA-256
 * is not the spec's, and only then runs it. Installs once per (URL, checksum); re-runs skip.
 */
export function vgpuDriverScript(url: string | undefined, sha256: string | undefined): string {
  const quote = (text: string): string => `'${text.replace(/'/g, "")}'`;
  const head = [
    "#!/bin/sh",
    "# Installs the NVIDIA vGPU guest driver from the spec's URL (not redistributable, so not in the image).",
    "set -eu",
  ];
  if (!url || !sha256)
    return [
      ...head,
      "echo 'hyperscaler: no vgpu_guest_driver_url/vgpu_guest_driver_sha256 in cluster.yaml; install the " +
        "NVIDIA vGPU guest driver by hand' | tee /etc/motd",
      "exit 0",
      "",
    ].join("\n");
  return [
    ...head,
    `url=${quote(url)}`,
    `sha256=${quote(sha256)}`,
    "# cloud-init runs this again when the VM's configuration changes: skip a driver already installed from this file.",
    "state=${HYPERSCALER_STATE_DIR:-/var/lib/hyperscaler}; stamp=$state/vgpu-driver-sha256",
    'if [ "$(cat "$stamp" 2>/dev/null)" = "$sha256" ] && nvidia-smi -L >/dev/null 2>&1; ' +
      "then systemctl restart nvidia-gridd || true; exit 0; fi",
    `apt-get install -y ${RUNNING_KERNEL_HEADERS} build-essential curl`,
    "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    'case "$url" in *.deb) file=$work/nvidia-guest-driver.deb ;; *) file=$work/nvidia-guest-driver.run ;; esac',
    'curl -fsSL -o "$file" "$url"',
    "# Nothing downloaded runs before its checksum matches the spec's.",
    'if ! printf \'%s  %s\\n\' "$sha256" "$file" | sha256sum -c --status; ' +
      'then echo "hyperscaler: $url does not have the SHA-256 in cluster.yaml ($sha256); ' +
      'refusing to install it" >&2; ' +
      "exit 1; fi",
    'case "$file" in *.deb) apt-get install -y "$file" ;; *) sh "$file" --silent --dkms ;; esac',
    'mkdir -p "$state" && printf \'%s\' "$sha256" > "$stamp"',
    "systemctl enable --now nvidia-gridd || true",
    "",
  ].join("\n");
}

export function gpuDriverLayer(
  spec: ClusterSpec,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
): CloudConfig {
  const driver = guestDriverFor(vm);
  if (driver === "none") return {};
  if (driver === "datacenter") {
    const layout = inGuestLayout(plan, vm);
    const files =
      layout.length === 0
        ? []
        : [
            {
              path: "/etc/systemd/system/hyperscaler-mig.service",
              permissions: "0644",
              // GPU instances never survive a reboot: re-create the planned placements at every boot.
              content: [
                "[Unit]",
                "Description=Carve the planned MIG instances (hyperscaler)",
                "After=nvidia-persistenced.service",
                // slurmd and kubelet (device plugin, mig-manager) must find the instances and their
                // /dev/nvidia-caps files.
                "Before=slurmd.service kubelet.service",
                "",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                "ExecStart=/usr/bin/nvidia-smi -i 0 -mig 1",
                ...layout.map((placement) => `ExecStart=/usr/bin/nvidia-smi mig -i 0 -cgi ${placement} -C`),
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
              ].join("\n"),
            },
          ];
    return {
      write_files: [
        {
          path: "/etc/apt/sources.list.d/debian-nonfree.sources",
          permissions: "0644",
          content:
            "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: " +
            "contrib non-free non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        },
        ...files,
      ],
      runcmd: [
        ["apt-get", "update"],
        // The DKMS module builds against the running kernel's headers (the image's generic kernel).
        [
          "sh",
          "-c",
          `DEBIAN_FRONTEND=noninteractive apt-get install -y ${RUNNING_KERNEL_HEADERS} nvidia-driver ` +
            `firmware-misc-nonfree nvidia-smi`,
        ],
        ...(layout.length ? [["systemctl", "enable", "--now", "hyperscaler-mig.service"]] : []),
      ],
    };
  }
  const url = spec.global.gpu_allocation.vgpu_guest_driver_url;
  const sha256 = spec.global.gpu_allocation.vgpu_guest_driver_sha256;
  const server = spec.global.gpu_allocation.vgpu_license_server;
  const serverLine = server
    ? `ServerAddress=${server}\n`
    : "# ServerAddress: set gpu_allocation.vgpu_license_server, " +
      "or place a client configuration token in /etc/nvidia/ClientConfigToken/\n";
  return {
    write_files: [
      {
        path: "/etc/nvidia/gridd.conf",
        permissions: "0644",
        content: `# NVIDIA vGPU licensing (hyperscaler)\nFeatureType=1\n${serverLine}`,
      },
      { path: "/usr/local/sbin/hyperscaler-vgpu-driver", permissions: "0755", content: vgpuDriverScript(url, sha256) },
    ],
    runcmd: [["/usr/local/sbin/hyperscaler-vgpu-driver"]],
  };
}
