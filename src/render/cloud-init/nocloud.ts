// NoCloud seed files for a VM: user-data (#cloud-config), meta-data and network-config (v2, static
// address matched by MAC). Role layers (Slurm, Kubernetes) merge into the base user-data.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { domainUuid } from "../../plan/ids";
import { networkOf } from "../../plan/vms";
import type { Plan, PlannedVm } from "../../plan/types";
import type { ClusterSpec } from "../../spec/types";
import { bootsGoldenImage } from "../images";

/** A part of a cloud-config: lists concatenate, other keys must not collide. */
export type CloudConfig = Record<string, unknown>;

const LIST_KEYS = new Set(["packages", "runcmd", "bootcmd", "write_files", "users", "ssh_authorized_keys", "mounts"]);

export function mergeCloudConfig(...parts: CloudConfig[]): CloudConfig {
  const merged: CloudConfig = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (value === undefined) continue;
      if (LIST_KEYS.has(key)) merged[key] = [...((merged[key] as unknown[]) ?? []), ...(value as unknown[])];
      else if (key in merged && JSON.stringify(merged[key]) !== JSON.stringify(value))
        throw new Error(`cloud-config layers disagree on ${key}`);
      else merged[key] = value;
    }
  }
  return merged;
}

export interface SeedFiles {
  readonly "user-data": string;
  readonly "meta-data": string;
  readonly "network-config": string;
}

export function baseCloudConfig(
  spec: ClusterSpec,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  extraKeys: readonly string[] = [],
): CloudConfig {
  const network = plan.networks.find((n) => n.name === vm.network);
  const keys = [...spec.security.ssh_authorized_keys, ...extraKeys];
  return {
    hostname: vm.name,
    fqdn: network ? `${vm.name}.${network.domain}` : vm.name,
    prefer_fqdn_over_hostname: false,
    manage_etc_hosts: true,
    users: [
      {
        name: spec.security.admin_user,
        groups: ["sudo"],
        shell: "/bin/bash",
        sudo: "ALL=(ALL) NOPASSWD:ALL",
        lock_passwd: true,
        // cloud-init's schema refuses an empty key list: leave the key out instead.
        ...(keys.length > 0 ? { ssh_authorized_keys: keys } : {}),
      },
    ],
    ssh_pwauth: false,
    disable_root: true,
    // A golden image carries every package: cloud-init only configures (no mirror needed at boot). Its
    // minimal root has no locales package, so the locale is one every glibc has built in.
    ...(bootsGoldenImage(spec, vm)
      ? { locale: "C.UTF-8" }
      : { package_update: true, packages: ["qemu-guest-agent", "chrony"] }),
    runcmd: [["systemctl", "enable", "--now", "qemu-guest-agent"]],
  };
}

export function renderUserData(config: CloudConfig): string {
  return "#cloud-config\n" + stringify(config, { lineWidth: 0 });
}

/**
 * The instance-id carries a digest of the VM's configuration: cloud-init runs its per-instance modules
 * again when the id changes, so a changed spec (a new partition, a new key) reaches an existing VM at its
 * next boot, and an unchanged one never re-runs. The role layers are written to be re-run safely.
 *
 * The digest covers the configuration with its secrets as placeholders (`identityUserData`), which is what
 * `hyperscaler render` writes: render and the stack give the same id, and the id reveals nothing of a secret.
 * A rotated secret alone does not re-run cloud-init.
 */
export function renderMetaData(
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  identityUserData: string,
  networkConfig: string,
): string {
  const digest = createHash("sha256")
    .update(identityUserData)
    .update("\0")
    .update(networkConfig)
    .digest("hex")
    .slice(0, 12);
  return stringify({ "instance-id": `${domainUuid(plan, vm)}-${digest}`, "local-hostname": vm.name });
}

export function renderNetworkConfig(plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">, vm: PlannedVm): string {
  const network = networkOf(plan, vm);
  return stringify({
    version: 2,
    ethernets: {
      primary: {
        match: { macaddress: vm.mac },
        "set-name": "eth0",
        addresses: [`${vm.ip}/${network.prefix}`],
        // cloud-init 22.4 (Debian 12) rejects `to: default`; 0.0.0.0/0 means the same to every renderer.
        routes: network.mode === "nat" ? [{ to: "0.0.0.0/0", via: network.gateway }] : [],
        nameservers: { addresses: [network.gateway], search: [network.domain] },
      },
    },
  });
}

/**
 * The VM's seed. `layers` carry the real secrets; `identityLayers` are the same layers with secrets as
 * placeholders (render's), from which the instance-id is derived. Without them the layers are used as is.
 */
export function seedFiles(
  spec: ClusterSpec,
  plan: Pick<Plan, "stack" | "networks" | "gpus" | "vms">,
  vm: PlannedVm,
  layers: CloudConfig[] = [],
  extraKeys: readonly string[] = [],
  identityLayers: CloudConfig[] = layers,
): SeedFiles {
  const userData = renderUserData(mergeCloudConfig(baseCloudConfig(spec, plan, vm, extraKeys), ...layers));
  const identity =
    identityLayers === layers
      ? userData
      : renderUserData(mergeCloudConfig(baseCloudConfig(spec, plan, vm, extraKeys), ...identityLayers));
  const networkConfig = renderNetworkConfig(plan, vm);
  return {
    "user-data": userData,
    "meta-data": renderMetaData(plan, vm, identity, networkConfig),
    "network-config": networkConfig,
  };
}
