// GPU rules: unique ids and PCI addresses, models and profiles known to the catalog, strategy and attach
// modes consistent, no oversubscription of slices, whole GPUs or vGPUs, every GPU node gets a share.
import { CATALOG, lookupModel, nonMigArchitecture, profileByName, type CatalogEntry } from "../../facts/gpu-catalog";
import { vgpuCapacity } from "../../facts/vgpu-capacity";
import { computeLabelText } from "../../facts/node-labels";
import { closest } from "../diagnostics";
import { CLUSTER_NAMES, type ClusterName, type ClusterSpec, type GpuDeviceSpec, type MigRequest } from "../types";
import type { RuleContext } from "./context";

const DEVICES = "/global/gpu_allocation/devices";

/** A device that can carry MIG instances (on the host as vGPUs, or inside a guest). */
export function carriesMig(device: GpuDeviceSpec): boolean {
  return (
    device.mig_capable && (device.attach === "auto" || device.attach === "mig-vgpu" || device.attach === "mig-in-guest")
  );
}

/** The catalog entry of a MIG-capable device, or undefined when the model is unknown or ambiguous. */
export function catalogEntryOf(device: GpuDeviceSpec): CatalogEntry | undefined {
  const lookup = lookupModel(device.model, device.pci_device_id);
  return lookup.kind === "found" ? lookup.entry : undefined;
}

/** Number of MIG instances a request asks for. */
export function migInstanceCount(request: MigRequest | undefined): number {
  if (request === undefined) return 0;
  return typeof request === "number" ? request : request.reduce((sum, item) => sum + item.count, 0);
}

/** GPU-enabled nodes of a cluster: the nodes that must each receive a share. */
export function gpuNodeCount(spec: ClusterSpec, cluster: ClusterName): number {
  if (cluster === "hpc") {
    const pool = spec.clusters.hpc?.compute_nodes;
    return pool?.gpu_enabled ? pool.count : 0;
  }
  const pool = spec.clusters.cloud?.worker_nodes.gpu_workers;
  return pool?.gpu_enabled ? pool.count : 0;
}

export function sharesFor(spec: ClusterSpec, cluster: ClusterName): number {
  const allocation = spec.global.gpu_allocation;
  return (
    migInstanceCount(allocation.mig_slices[cluster]) + allocation.whole_gpus[cluster] + allocation.vgpu_shares[cluster]
  );
}

export function checkGpus(ctx: RuleContext): void {
  const devices = ctx.spec.global.gpu_allocation.devices;
  checkIdentity(ctx, devices);
  devices.forEach((device, index) => checkDevice(ctx, device, `${DEVICES}/${index}`));
  checkStrategy(ctx);
  for (const cluster of CLUSTER_NAMES) checkMigRequest(ctx, cluster);
  checkCapacity(ctx);
  for (const cluster of CLUSTER_NAMES) checkShares(ctx, cluster);
  checkDriverChecksum(ctx);
}

/** The vGPU guest driver runs as root in every vGPU guest: a URL alone is not enough. */
function checkDriverChecksum(ctx: RuleContext): void {
  const allocation = ctx.spec.global.gpu_allocation;
  if (allocation.vgpu_guest_driver_url === undefined || allocation.vgpu_guest_driver_sha256 !== undefined) return;
  ctx.error({
    path: "/global/gpu_allocation/vgpu_guest_driver_url",
    message:
      "vgpu_guest_driver_url has no vgpu_guest_driver_sha256: the guests would run an unverified download as root",
    found: allocation.vgpu_guest_driver_url,
    expected: "vgpu_guest_driver_sha256 beside the URL",
    hint: "add vgpu_guest_driver_sha256: <the output of `sha256sum` on the driver file> under global.gpu_allocation",
  });
}

function checkIdentity(ctx: RuleContext, devices: readonly GpuDeviceSpec[]): void {
  const ids = new Map<string, number>();
  const addresses = new Map<string, number>();
  devices.forEach((device, index) => {
    const firstId = ids.get(device.id);
    if (firstId !== undefined) {
      ctx.error({
        path: `${DEVICES}/${index}/id`,
        message: `GPU id ${JSON.stringify(device.id)} is used by devices ${firstId} and ${index}`,
        found: device.id,
        expected: "a unique id",
        hint: `rename one, e.g. GPU-${devices.length}`,
      });
    } else ids.set(device.id, index);
    const address = device.pci_address.toLowerCase();
    const firstAddress = addresses.get(address);
    if (firstAddress !== undefined) {
      ctx.error({
        path: `${DEVICES}/${index}/pci_address`,
        message:
          `PCI address ${device.pci_address} is declared by devices ` +
          `${firstAddress} (${devices[firstAddress].id}) and ${index} (${device.id})`,
        found: device.pci_address,
        expected: "each GPU's own PCI address",
        hint: "run `lspci -D -d 10de:` or `hyperscaler probe` to list the host's GPUs",
      });
    } else addresses.set(address, index);
  });
}

function knownModels(): string {
  return CATALOG.map((entry) => entry.displayName).join(", ");
}

function checkDevice(ctx: RuleContext, device: GpuDeviceSpec, path: string): void {
  const lookup = lookupModel(device.model, device.pci_device_id);
  if (device.mig_capable) {
    if (lookup.kind === "unknown") {
      const architecture = nonMigArchitecture(device.model);
      ctx.error({
        path: `${path}/model`,
        message: architecture
          ? `model ${JSON.stringify(device.model)} does not support MIG (${architecture} GPU), but mig_capable is true`
          : `model ${JSON.stringify(device.model)} is not in the MIG profile catalog`,
        found: device.model,
        expected: `a MIG-capable model: ${knownModels()}`,
        hint: architecture
          ? "set mig_capable: false and share it whole (passthrough) or as time-sliced vGPU"
          : "write the model as nvidia-smi prints it (e.g. NVIDIA A100-SXM4-80GB) or add pci_device_id; " +
            "if the GPU has no MIG, set mig_capable: false",
      });
      return;
    }
    if (lookup.kind === "ambiguous") {
      ctx.error({
        path: `${path}/model`,
        message:
          `model ${JSON.stringify(device.model)} matches several catalog models: ` +
          `${lookup.candidates.map((c) => c.displayName).join(", ")}`,
        found: device.model,
        expected: "one catalog model",
        hint:
          `name the model exactly or add pci_device_id ` +
          `(${lookup.candidates.flatMap((c) => c.pciDeviceIds).join(", ") || "see lspci -nn"})`,
      });
      return;
    }
    const entry = lookup.entry;
    const names = entry.profiles.map((profile) => profile.name);
    (device.allowed_mig_profiles ?? []).forEach((name, index) => {
      if (!profileByName(entry, name)) {
        const suggestion = closest(name, names);
        ctx.error({
          path: `${path}/allowed_mig_profiles/${index}`,
          message: `MIG profile ${JSON.stringify(name)} does not exist on ${entry.displayName}`,
          found: name,
          expected: `one of ${names.join(", ")}`,
          hint:
            `${suggestion ? `did you mean ${suggestion}? ` : ""}` +
            `profiles of ${entry.displayName} are ${names.join(", ")}`,
        });
      }
    });
  } else {
    if (lookup.kind === "found") {
      ctx.warn({
        path: `${path}/mig_capable`,
        message: `${device.model} supports MIG but mig_capable is false; it will only be shared whole`,
        found: false,
        expected: "true to carve MIG slices",
      });
    }
    if (device.allowed_mig_profiles !== undefined) {
      ctx.error({
        path: `${path}/allowed_mig_profiles`,
        atKey: true,
        message: `GPU ${device.id} lists allowed_mig_profiles but mig_capable is false`,
        found: device.allowed_mig_profiles,
        expected: "no allowed_mig_profiles on a non-MIG GPU",
        hint: "remove allowed_mig_profiles, or set mig_capable: true if the model supports MIG",
      });
    }
    if (device.attach === "mig-vgpu" || device.attach === "mig-in-guest") {
      ctx.error({
        path: `${path}/attach`,
        message: `attach ${device.attach} needs a MIG-capable GPU, but ${device.id} has mig_capable: false`,
        found: device.attach,
        expected: "passthrough, vgpu or auto",
        hint: "use attach: passthrough for a whole GPU, or attach: vgpu with a vgpu_type",
      });
    }
  }
  if (device.attach === "vgpu" && device.vgpu_type === undefined) {
    ctx.error({
      path: `${path}/attach`,
      message: `GPU ${device.id} has attach: vgpu but no vgpu_type`,
      found: device.attach,
      expected: "a vgpu_type such as A100-20C next to attach: vgpu",
      hint: "add vgpu_type (see `mdevctl types` or the card's creatable_vgpu_types)",
    });
  }
  if (device.vgpu_type !== undefined && device.attach !== "vgpu") {
    ctx.error({
      path: `${path}/vgpu_type`,
      atKey: true,
      message: `GPU ${device.id} sets vgpu_type but attach is ${device.attach}`,
      found: device.vgpu_type,
      expected: "vgpu_type only with attach: vgpu",
      hint: "set attach: vgpu, or remove vgpu_type",
    });
  }
}

function checkStrategy(ctx: RuleContext): void {
  const allocation = ctx.spec.global.gpu_allocation;
  const migTotal = CLUSTER_NAMES.reduce((sum, c) => sum + migInstanceCount(allocation.mig_slices[c]), 0);
  const wholeTotal = allocation.whole_gpus.hpc + allocation.whole_gpus.cloud;
  if (allocation.strategy === "mig") {
    if (!allocation.devices.some((device) => device.mig_capable)) {
      ctx.error({
        path: "/global/gpu_allocation/strategy",
        message: "strategy mig needs at least one device with mig_capable: true",
        found: "mig",
        expected: "a MIG-capable device, or strategy whole",
        hint: "set strategy: whole, or declare a MIG-capable GPU",
      });
    }
    if (wholeTotal > 0) {
      ctx.error({
        path: "/global/gpu_allocation/whole_gpus",
        message: `strategy mig allows no whole GPUs, but whole_gpus asks for ${wholeTotal}`,
        found: allocation.whole_gpus,
        expected: "whole_gpus 0 for every cluster",
        hint: "set strategy: hybrid to mix MIG slices and whole GPUs",
      });
    }
  }
  if (allocation.strategy === "whole" && migTotal > 0) {
    ctx.error({
      path: "/global/gpu_allocation/mig_slices",
      message: `strategy whole allows no MIG slices, but mig_slices asks for ${migTotal}`,
      found: allocation.mig_slices,
      expected: "no mig_slices",
      hint: "set strategy: hybrid (or mig), or remove mig_slices",
    });
  }
}

function checkMigRequest(ctx: RuleContext, cluster: ClusterName): void {
  const allocation = ctx.spec.global.gpu_allocation;
  const request = allocation.mig_slices[cluster];
  const path = `/global/gpu_allocation/mig_slices/${cluster}`;
  if (request === undefined || migInstanceCount(request) === 0) return;
  const carriers = allocation.devices.filter(carriesMig);
  if (carriers.length === 0) {
    ctx.error({
      path,
      message:
        `mig_slices.${cluster} asks for ${migInstanceCount(request)} MIG instance(s) ` +
        `but no device can carry MIG slices`,
      found: request,
      expected: "a device with mig_capable: true and attach auto, mig-vgpu or mig-in-guest",
      hint: "declare a MIG-capable GPU, or use whole_gpus instead",
    });
    return;
  }
  if (typeof request === "number") return;
  request.forEach((item, index) => {
    const itemPath = `${path}/${index}`;
    let candidates = carriers;
    if (item.device !== undefined) {
      const pinned = allocation.devices.find((device) => device.id === item.device);
      if (!pinned) {
        ctx.error({
          path: `${itemPath}/device`,
          message: `device ${JSON.stringify(item.device)} is not declared in gpu_allocation.devices`,
          found: item.device,
          expected: `one of ${allocation.devices.map((d) => d.id).join(", ")}`,
          hint: closest(
            item.device,
            allocation.devices.map((d) => d.id),
          )
            ? `did you mean ${closest(
                item.device,
                allocation.devices.map((d) => d.id),
              )}?`
            : undefined,
        });
        return;
      }
      if (!carriesMig(pinned)) {
        ctx.error({
          path: `${itemPath}/device`,
          message:
            `device ${pinned.id} cannot carry MIG slices ` +
            `(mig_capable ${pinned.mig_capable}, attach ${pinned.attach})`,
          found: item.device,
          expected: "a MIG-capable device with attach auto, mig-vgpu or mig-in-guest",
          hint: `pin to ${carriers.map((d) => d.id).join(" or ")}`,
        });
        return;
      }
      candidates = [pinned];
    }
    const entries = candidates.map(catalogEntryOf).filter((entry): entry is CatalogEntry => entry !== undefined);
    if (entries.length === 0) return; // the model error was already reported
    const fits = candidates.some((device) => {
      const entry = catalogEntryOf(device);
      return (
        entry !== undefined &&
        profileByName(entry, item.profile) !== undefined &&
        (device.allowed_mig_profiles === undefined || device.allowed_mig_profiles.includes(item.profile))
      );
    });
    if (!fits) {
      const names = [
        ...new Set(
          candidates.flatMap((device) => {
            const entry = catalogEntryOf(device);
            return entry
              ? entry.profiles
                  .map((p) => p.name)
                  .filter((n) => device.allowed_mig_profiles === undefined || device.allowed_mig_profiles.includes(n))
              : [];
          }),
        ),
      ];
      const suggestion = closest(item.profile, names);
      const models = [...new Set(entries.map((entry) => entry.displayName))].join(", ");
      const allowed = candidates.some((d) => d.allowed_mig_profiles) ? " allowed by allowed_mig_profiles" : "";
      ctx.error({
        path: `${itemPath}/profile`,
        message:
          `MIG profile ${JSON.stringify(item.profile)} is not available ` +
          `on ${item.device ?? "any MIG device"} (${models})`,
        found: item.profile,
        expected: `one of ${names.join(", ")}`,
        hint:
          `${suggestion ? `did you mean ${suggestion}? ` : ""}` +
          `profiles of ${models}${allowed} are ${names.join(", ")}`,
      });
    }
  });
}

/** Compute slices a request needs, sizing each profile on the first carrier that offers it. */
function computeSliceDemand(ctx: RuleContext, request: MigRequest | undefined): number {
  if (request === undefined) return 0;
  if (typeof request === "number") return request;
  const carriers = ctx.spec.global.gpu_allocation.devices.filter(carriesMig);
  return request.reduce((sum, item) => {
    for (const device of carriers) {
      const entry = catalogEntryOf(device);
      const profile = entry && profileByName(entry, item.profile);
      if (profile) return sum + profile.computeSlices * item.count;
    }
    return sum + item.count;
  }, 0);
}

function checkCapacity(ctx: RuleContext): void {
  const allocation = ctx.spec.global.gpu_allocation;
  const carriers = allocation.devices.filter(carriesMig);
  const perDevice = (device: GpuDeviceSpec): number => catalogEntryOf(device)?.geometry.computeSlices ?? 0;
  const demand = CLUSTER_NAMES.reduce((sum, c) => sum + computeSliceDemand(ctx, allocation.mig_slices[c]), 0);
  const capacity = carriers.reduce((sum, device) => sum + perDevice(device), 0);
  if (carriers.length > 0 && carriers.every((d) => catalogEntryOf(d)) && demand > capacity) {
    ctx.error({
      path: "/global/gpu_allocation/mig_slices",
      message:
        `MIG slices ask for ${demand} compute slices but the MIG devices hold ${capacity} ` +
        `(${carriers.map((d) => `${d.id}: ${perDevice(d)}`).join(", ")})`,
      found: allocation.mig_slices,
      expected: `at most ${capacity} compute slices in all`,
      hint: "ask for fewer or smaller slices, or declare another MIG-capable GPU",
    });
  }
  // Whole GPUs come from passthrough devices, non-MIG auto devices, and MIG devices that slices leave free.
  const dedicated = carriers.filter((d) => d.attach !== "auto").reduce((sum, d) => sum + perDevice(d), 0);
  const autoMig = carriers.filter((d) => d.attach === "auto");
  const slicesPerAuto = Math.max(1, ...autoMig.map(perDevice));
  const autoNeededForMig = Math.min(autoMig.length, Math.max(0, Math.ceil((demand - dedicated) / slicesPerAuto)));
  const wholeEligible =
    allocation.devices.filter((d) => d.attach === "passthrough" || (d.attach === "auto" && !carriesMig(d))).length +
    autoMig.length -
    autoNeededForMig;
  const wholeTotal = allocation.whole_gpus.hpc + allocation.whole_gpus.cloud;
  if (wholeTotal > wholeEligible) {
    ctx.error({
      path: "/global/gpu_allocation/whole_gpus",
      message:
        `whole_gpus asks for ${wholeTotal} whole GPU(s) ` +
        `but only ${wholeEligible} device(s) are free for passthrough` +
        `${autoNeededForMig > 0 ? ` (${autoNeededForMig} MIG device(s) carry the slices)` : ""}`,
      found: allocation.whole_gpus,
      expected: `at most ${wholeEligible} whole GPU(s)`,
      hint: "ask for fewer whole GPUs, declare more devices, or move MIG slices off a device",
    });
  }
  const vgpuDevices = allocation.devices.filter((d) => d.attach === "vgpu");
  const vgpuTotal = allocation.vgpu_shares.hpc + allocation.vgpu_shares.cloud;
  if (vgpuTotal > 0 && vgpuDevices.length === 0) {
    ctx.error({
      path: "/global/gpu_allocation/vgpu_shares",
      message: `vgpu_shares asks for ${vgpuTotal} vGPU(s) but no device has attach: vgpu`,
      found: allocation.vgpu_shares,
      expected: "a device with attach: vgpu and a vgpu_type",
      hint: "set attach: vgpu and vgpu_type on a GPU, or remove vgpu_shares",
    });
  } else if (vgpuTotal > 0) {
    const capacityKnown = vgpuDevices.map(vgpuCapacity);
    if (capacityKnown.every((c) => c !== null)) {
      const vgpuCap = capacityKnown.reduce((a, b) => a + b, 0);
      if (vgpuTotal > vgpuCap) {
        ctx.error({
          path: "/global/gpu_allocation/vgpu_shares",
          message:
            `vgpu_shares asks for ${vgpuTotal} vGPU(s) but the vgpu devices hold ${vgpuCap} ` +
            `(${vgpuDevices.map((d, i) => `${d.id} ${d.vgpu_type}: ${capacityKnown[i]}`).join(", ")})`,
          found: allocation.vgpu_shares,
          expected: `at most ${vgpuCap}`,
          hint: "use a smaller vgpu_type (less framebuffer per vGPU) or fewer shares",
        });
      }
    }
  }
}

function checkShares(ctx: RuleContext, cluster: ClusterName): void {
  const spec = ctx.spec;
  const shares = sharesFor(spec, cluster);
  const nodes = gpuNodeCount(spec, cluster);
  const poolPath = cluster === "hpc" ? "/clusters/hpc/compute_nodes" : "/clusters/cloud/worker_nodes/gpu_workers";
  const allocation = spec.global.gpu_allocation;
  if (cluster === "cloud" && spec.clusters.cloud?.worker_nodes.cpu_workers?.gpu_enabled) {
    ctx.error({
      path: "/clusters/cloud/worker_nodes/cpu_workers/gpu_enabled",
      message: `cpu_workers cannot be gpu_enabled: they are the ${computeLabelText("cpu")} pool`,
      found: true,
      expected: "false",
      hint: "move GPU nodes to worker_nodes.gpu_workers",
    });
  }
  if (nodes > 0 && shares < nodes) {
    ctx.error({
      path: `${poolPath}/gpu_enabled`,
      message:
        `${nodes} GPU-enabled ${cluster} node(s) but the ${cluster} cluster receives only ${shares} GPU share(s) ` +
        `(MIG slices ${migInstanceCount(allocation.mig_slices[cluster])}, ` +
        `whole GPUs ${allocation.whole_gpus[cluster]}, vGPUs ${allocation.vgpu_shares[cluster]})`,
      found: shares,
      expected: `at least ${nodes} share(s), one per GPU-enabled node`,
      hint:
        shares === 0
          ? `give the ${cluster} cluster GPU shares in gpu_allocation ` +
            `(mig_slices.${cluster}, whole_gpus.${cluster} or vgpu_shares.${cluster}), or set gpu_enabled: false`
          : `raise gpu_allocation.mig_slices.${cluster} to ${nodes}, or lower the pool's count to ${shares}`,
    });
  }
  if (shares > 0 && nodes === 0) {
    const exists = cluster === "hpc" ? spec.clusters.hpc !== undefined : spec.clusters.cloud !== undefined;
    const sharePath =
      migInstanceCount(allocation.mig_slices[cluster]) > 0
        ? `/global/gpu_allocation/mig_slices/${cluster}`
        : allocation.whole_gpus[cluster] > 0
          ? `/global/gpu_allocation/whole_gpus/${cluster}`
          : `/global/gpu_allocation/vgpu_shares/${cluster}`;
    ctx.error({
      path: sharePath,
      message: exists
        ? `the ${cluster} cluster receives ${shares} GPU share(s) but none of its node pools has gpu_enabled: true`
        : `GPU shares are allocated to the ${cluster} cluster, which the spec does not define`,
      found: shares,
      expected: exists
        ? "a pool with gpu_enabled: true and count > 0"
        : `a clusters.${cluster} section, or no ${cluster} shares`,
      hint: exists
        ? `set gpu_enabled: true on ${poolPath.slice(1).replace(/\//g, ".")}`
        : `remove the ${cluster} shares or add clusters.${cluster}`,
    });
  }
}
