// Preflight checks over a host inventory (and optionally a spec): each PASS/WARN/FAIL with a one-line fix.
// What the spec needs of the host (vGPU framework, driver, capacity) is asked of the Plan, so doctor can
// never FAIL a spec the planner accepts, nor pass one it refuses.
import { buildPlan, capacityOf, needsVgpuFramework } from "../plan";
import type { PlannedGpu } from "../plan/types";
import type { ClusterSpec } from "../spec/types";
import type { HostGpu, HostInventory } from "../host/types";

export type CheckStatus = "PASS" | "WARN" | "FAIL";

export interface Check {
  readonly id: string;
  readonly status: CheckStatus;
  readonly message: string;
  readonly remediation: string | null;
}

const pass = (id: string, message: string): Check => ({ id, status: "PASS", message, remediation: null });
const warn = (id: string, message: string, remediation: string): Check => ({
  id,
  status: "WARN",
  message,
  remediation,
});
const fail = (id: string, message: string, remediation: string): Check => ({
  id,
  status: "FAIL",
  message,
  remediation,
});

/** A GPU the plan hands whole to a VM: vfio-pci takes it. */
function needsVfio(gpu: PlannedGpu): boolean {
  return gpu.attach === "passthrough" || gpu.attach === "mig-in-guest";
}

export function runDoctor(host: HostInventory, spec?: ClusterSpec): Check[] {
  const checks: Check[] = [];
  // An emulated spec runs without hardware virtualization: its absence is worth knowing, not a failure.
  const missing = spec?.host.virtualization === "emulated" ? warn : fail;
  checks.push(
    host.cpu.virtualization
      ? pass("cpu-virtualization", `CPU virtualization flag ${host.cpu.virtualization} present`)
      : missing(
          "cpu-virtualization",
          "CPU shows no vmx/svm flag",
          "enable Intel VT-x / AMD-V (SVM) in the firmware setup",
        ),
  );
  checks.push(
    !host.kvm.device
      ? missing(
          "kvm",
          "/dev/kvm is missing",
          "load kvm_intel or kvm_amd (modprobe) after enabling virtualization in the firmware",
        )
      : host.kvm.accessible
        ? pass("kvm", "/dev/kvm present and accessible")
        : missing(
            "kvm",
            "/dev/kvm exists but cannot be opened",
            "add the user to the kvm group (usermod -aG kvm $USER) and log in again",
          ),
  );
  checks.push(
    host.iommu.enabled === true
      ? pass("iommu", `IOMMU enabled (${host.iommu.groups.length} groups)`)
      : host.iommu.enabled === false
        ? (host.gpus.length > 0 ? fail : warn)(
            "iommu",
            "IOMMU is not active (no /sys/class/iommu entries, no IOMMU groups)",
            "add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line " +
              "and enable VT-d/AMD-Vi in the firmware",
          )
        : warn(
            "iommu",
            "IOMMU state unknown (no sysfs in this snapshot)",
            "capture the snapshot with `hyperscaler probe --capture` on the host",
          ),
  );
  checks.push(
    host.libvirt.reachable
      ? pass("libvirt", `libvirt ${host.libvirt.version ?? "?"} reachable at ${host.libvirt.uri}`)
      : fail(
          "libvirt",
          `libvirt not reachable at ${host.libvirt.uri}`,
          "install libvirt-daemon-system and start libvirtd (systemctl enable --now libvirtd)",
        ),
  );
  if (host.gpus.length > 0 || host.nouveau.loaded) {
    checks.push(
      host.nouveau.loaded
        ? fail(
            "nouveau",
            "the nouveau driver is loaded",
            "blacklist nouveau (echo 'blacklist nouveau' > /etc/modprobe.d/blacklist-nouveau.conf), " +
              "update-initramfs -u, reboot",
          )
        : host.nouveau.blacklisted === false
          ? warn(
              "nouveau",
              "nouveau is not loaded but not blacklisted either",
              "add 'blacklist nouveau' to /etc/modprobe.d so it cannot grab a GPU after an update",
            )
          : pass("nouveau", host.nouveau.blacklisted ? "nouveau blacklisted" : "nouveau not loaded"),
    );
  }
  for (const gpu of host.gpus) checks.push(iommuIsolation(gpu));
  checks.push(virtualizationCheck(host, spec));
  if (spec) checks.push(...specChecks(host, spec));
  return checks;
}

/** Which host.virtualization this host supports, and why; against the spec's choice when given. */
export function supportedVirtualization(host: HostInventory): { mode: "kvm" | "emulated"; reason: string } {
  if (!host.kvm.device) return { mode: "emulated", reason: "/dev/kvm is missing" };
  if (!host.kvm.accessible) return { mode: "emulated", reason: "/dev/kvm exists but cannot be opened" };
  // PVM (paravirtual KVM in a cloud VM) offers /dev/kvm without vmx/svm; stock guest kernels die in it.
  if (!host.cpu.virtualization)
    return {
      mode: "emulated",
      reason:
        "/dev/kvm is present but the CPU shows no vmx/svm flag " +
        "(a paravirtual KVM such as PVM, which stock Debian kernels cannot run under)",
    };
  return { mode: "kvm", reason: `/dev/kvm is usable and the CPU has ${host.cpu.virtualization}` };
}

function virtualizationCheck(host: HostInventory, spec?: ClusterSpec): Check {
  const { mode, reason } = supportedVirtualization(host);
  const wanted = spec?.host.virtualization;
  if (mode === "kvm") {
    return wanted === "emulated"
      ? warn(
          "virtualization",
          `host supports kvm (${reason}) but the spec asks for emulated`,
          "set host.virtualization: kvm; emulation is 10-50x slower",
        )
      : pass("virtualization", `host supports kvm: ${reason}`);
  }
  if (wanted === "emulated")
    return pass("virtualization", `host supports emulated only (${reason}); the spec asks for emulated`);
  return (wanted === "kvm" ? fail : warn)(
    "virtualization",
    `host supports emulated only: ${reason}`,
    wanted === "kvm"
      ? "set host.virtualization: emulated in cluster.yaml (QEMU TCG: slow, for laptops and CI), " +
          "or fix KVM as the kvm check says"
      : "VMs need host.virtualization: emulated here (QEMU TCG: slow, for laptops and CI)",
  );
}

function iommuIsolation(gpu: HostGpu): Check {
  const id = `iommu-group-${gpu.pciAddress}`;
  if (gpu.iommuIsolated === null)
    return warn(id, `${gpu.pciAddress} ${gpu.name}: IOMMU group unknown`, "enable the IOMMU, then re-probe");
  // What passthrough takes: the GPU and every other endpoint of its group, each bound to vfio-pci by libvirt.
  const others = gpu.iommuGroupEndpoints ?? [];
  const takes = others.length
    ? `; passthrough takes ${[gpu.pciAddress, ...others].join(", ")} (libvirt binds each to vfio-pci)`
    : "";
  return gpu.iommuIsolated
    ? pass(
        id,
        `${gpu.pciAddress} ${gpu.name}: alone in IOMMU group ${gpu.iommuGroup} (with its own functions only)${takes}`,
      )
    : warn(
        id,
        `${gpu.pciAddress} ${gpu.name}: IOMMU group ${gpu.iommuGroup} holds other devices${takes}`,
        "move the card to a CPU-attached slot, or enable ACS in the firmware; " +
          "otherwise those devices leave the host with the GPU",
      );
}

function specChecks(host: HostInventory, spec: ClusterSpec): Check[] {
  const checks: Check[] = [];
  const plan = buildPlan({ spec, host });
  for (const device of spec.global.gpu_allocation.devices) {
    const planned = plan.gpus.find((g) => g.id === device.id);
    const gpu = host.gpus.find((g) => g.pciAddress === device.pci_address.toLowerCase());
    const id = `gpu-${device.id}`;
    if (!gpu) {
      checks.push(
        fail(
          `${id}-present`,
          `${device.id}: no NVIDIA GPU at ${device.pci_address} ` +
            `(host has ${host.gpus.map((g) => g.pciAddress).join(", ") || "none"})`,
          "correct pci_address in cluster.yaml (hyperscaler probe lists the GPUs)",
        ),
      );
      continue;
    }
    checks.push(pass(`${id}-present`, `${device.id}: ${gpu.name} at ${gpu.pciAddress}`));
    if (planned && needsVfio(planned)) {
      checks.push(
        gpu.boundDriver === "vfio-pci"
          ? pass(`${id}-driver`, `${device.id} bound to vfio-pci (ready for passthrough)`)
          : warn(
              `${id}-driver`,
              `${device.id} is bound to ${gpu.boundDriver ?? "no driver"}; passthrough needs vfio-pci`,
              `libvirt detaches it at VM start (managed='yes'); ` +
                `to bind at boot add vfio-pci.ids=${gpu.pciDeviceId ?? "10de:XXXX"} to the kernel command line`,
            ),
      );
    } else if (planned && needsVgpuFramework(planned)) {
      checks.push(
        gpu.boundDriver === "nvidia"
          ? pass(`${id}-driver`, `${device.id} bound to nvidia (host driver for MIG/vGPU)`)
          : fail(
              `${id}-driver`,
              `${device.id} is bound to ${gpu.boundDriver ?? "no driver"}; MIG and vGPU need the NVIDIA host driver`,
              `unbind it from ${gpu.boundDriver ?? "its driver"} and load the NVIDIA vGPU/AI Enterprise host driver`,
            ),
      );
    }
    // MIG support is the planner's refusal (one rule, whatever the attach mode); MIG mode matters only where
    // the plan turns MIG on in the host (not for a GPU it passes through whole, not for MIG in the guest).
    const noMig = plan.errors.find((e) => e.gpu === device.id && e.path?.endsWith("/mig_capable"));
    if (noMig) checks.push(fail(`${id}-mig`, noMig.message, noMig.hint ?? "set mig_capable: false in cluster.yaml"));
    else if (planned?.attach === "mig-in-guest")
      checks.push(pass(`${id}-mig`, `${device.id}: MIG is carved inside the guest`));
    else if (planned?.migEnabled) {
      if (gpu.migMode?.current) checks.push(pass(`${id}-mig`, `${device.id}: MIG mode enabled`));
      else
        checks.push(
          warn(
            `${id}-mig`,
            `${device.id}: MIG mode is ${gpu.migMode === null ? "unknown" : "disabled"}; ` +
              `applying enables it (GPU reset)`,
            `nvidia-smi -i ${gpu.index ?? "<index>"} -mig 1 (pulumi up does this), with no process on the GPU`,
          ),
        );
      if (gpu.migMode && gpu.migMode.pending !== null && gpu.migMode.pending !== gpu.migMode.current) {
        checks.push(
          host.resetBlockers.length > 0
            ? fail(
                `${id}-reset`,
                `${device.id}: a MIG mode change is pending ` +
                  `but the reset is blocked by ${host.resetBlockers.join(", ")}`,
                "stop nvidia-persistenced, DCGM and fabric manager, unload nvidia_drm, then nvidia-smi -r",
              )
            : warn(
                `${id}-reset`,
                `${device.id}: a MIG mode change is pending until the GPU is reset`,
                `nvidia-smi -i ${gpu.index ?? "<index>"} -r`,
              ),
        );
      }
    }
    if (planned && needsVgpuFramework(planned)) {
      checks.push(
        gpu.vgpu.framework
          ? pass(
              `${id}-vgpu`,
              `${device.id}: vGPU framework ${gpu.vgpu.framework} with ${gpu.vgpu.types.length} type(s)`,
            )
          : fail(
              `${id}-vgpu`,
              `${device.id}: no vGPU framework (no mdev types, no SR-IOV vGPU types)`,
              "install the NVIDIA vGPU / AI Enterprise host driver (Hopper+: sriov-manage -e ALL), " +
                "or use attach: passthrough or mig-in-guest",
            ),
      );
    }
  }
  const capacity = capacityOf(plan.vms, host, spec.host.reserved);
  if (capacity.memory) {
    const { neededGiB, availableGiB, hostGiB, reservedGiB, fits } = capacity.memory;
    const budget = `host ${hostGiB} GiB less ${reservedGiB} reserved for the host`;
    checks.push(
      fits
        ? pass("capacity-memory", `VMs need ${neededGiB} GiB of ${availableGiB} GiB available (${budget})`)
        : fail(
            "capacity-memory",
            `VMs need ${neededGiB} GiB but only ${availableGiB} GiB are available (${budget})`,
            "lower memory_gb or node counts in cluster.yaml, or host.reserved.memory_gb",
          ),
    );
  }
  if (capacity.cpu) {
    const { vcpus, threads, available, reservedCores, verdict } = capacity.cpu;
    const budget = `host ${threads} threads less ${reservedCores} reserved for the host`;
    checks.push(
      verdict === "fits"
        ? pass("capacity-cpu", `VMs need ${vcpus} vCPUs of ${available} host threads available (${budget})`)
        : verdict === "overcommitted"
          ? warn(
              "capacity-cpu",
              `VMs need ${vcpus} vCPUs on ${available} available host threads, overcommitted (${budget})`,
              "lower cpu_cores if jobs are CPU-bound",
            )
          : fail(
              "capacity-cpu",
              `VMs need ${vcpus} vCPUs, over 4x the ${available} available host threads (${budget})`,
              "lower cpu_cores or node counts in cluster.yaml, or host.reserved.cpu_cores",
            ),
    );
  }
  if (host.disk && host.disk.freeGiB !== null) {
    // Overlays are thin: budget a quarter of the declared disk sizes plus the base image.
    const needed = Math.ceil(capacity.diskGiB / 4) + 5;
    checks.push(
      needed <= host.disk.freeGiB
        ? pass(
            "capacity-disk",
            `${host.disk.freeGiB} GiB free at ${host.disk.path}; ` +
              `overlays start near ${needed} GiB (${capacity.diskGiB} GiB declared, thin)`,
          )
        : warn(
            "capacity-disk",
            `${host.disk.freeGiB} GiB free at ${host.disk.path}; VMs may grow to ${capacity.diskGiB} GiB`,
            "free space or move host.storage_pool.path to a larger disk",
          ),
    );
  }
  return checks;
}
