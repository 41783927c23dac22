// The stack program: read the stack's config once, load and validate the spec, probe or replay the host,
// plan, then build thin components. Data flows one way: spec, host, plan, render, resources.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as fs from "node:fs";
import { BaseImage } from "../../components/base-image";
import { ClusterNetwork } from "../../components/cluster-network";
import { GpuHost } from "../../components/gpu-host";
import { HostFirewall } from "../../components/host-firewall";
import { SlurmCluster } from "../../components/slurm-cluster";
import { KubernetesCluster } from "../../components/kubernetes-cluster";
import { MlopsServices, type ServiceEndpoint } from "../../components/mlops-services";
import type { VmSettings } from "../../components/virtual-machine";
import { probeLive } from "../host/live";
import { loadHost } from "../host/load";
import type { HostInventory } from "../host/types";
import { buildPlan, planIssueDiagnostic } from "../plan";
import { loadPreviousPlan } from "../plan/previous";
import type { Plan, PlannedVm } from "../plan/types";
import { mdevMap } from "../render/gpu-files";
import { MissingImageError, roleImage, type RoleImage } from "../render/images";
import { domainTypeOf, hostFirewallOn } from "../render/stack-inputs";
import { formatHuman } from "../spec/diagnostics";
import { loadSpecFile } from "../spec/load";
import type { ClusterSpec } from "../spec/types";

export interface StackSettings {
  readonly stack: string;
  readonly clusterFile: string;
  readonly libvirtUri?: string;
  readonly hostSnapshot?: string;
  readonly previousPlan?: string;
  readonly sshPublicKey?: string;
  /** Start networks and VMs (false: define only). */
  readonly start: boolean;
}

/** Reads `hyperscaler:*` stack config once. */
export function settingsFromConfig(): StackSettings {
  const config = new pulumi.Config("hyperscaler");
  const stack = pulumi.getStack();
  return {
    stack,
    clusterFile: config.get("clusterFile") ?? `config/${stack}.yaml`,
    libvirtUri: config.get("libvirtUri"),
    hostSnapshot: config.get("hostSnapshot"),
    previousPlan: config.get("previousPlan"),
    sshPublicKey: config.get("sshPublicKey"),
    start: config.getBoolean("startVms") ?? true,
  };
}

/**
 * A spec or plan problem: the preview fails with the same text `hyperscaler validate` / `plan` print.
 * A RunError, so the engine shows the message without a stack trace (it is bad input, not a bug).
 */
export class StackInputError extends pulumi.RunError {}

export function loadSpecOrThrow(file: string): ClusterSpec {
  return loadSpecSourceOrThrow(file).spec;
}

function loadSpecSourceOrThrow(file: string): Extract<ReturnType<typeof loadSpecFile>, { ok: true }> {
  const loaded = loadSpecFile(file);
  if (loaded.ok) return loaded;
  const lines = fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file, "utf8").split(/\r?\n/) : [];
  throw new StackInputError(
    `${file} is not a valid cluster spec:\n${loaded.errors.map((e) => formatHuman(e, lines[e.line - 1])).join("\n")}`,
  );
}

function previousPlan(file: string | undefined): Plan | undefined {
  if (!file || !fs.existsSync(file)) return undefined;
  return loadPreviousPlan(file);
}

export interface StackOutputs {
  readonly slurm: { controllerAddress: string; sinfo: string; nodes: string[] } | null;
  readonly services: Record<string, ServiceEndpoint>;
  readonly kubernetes: {
    apiServer: string;
    caCertHash: pulumi.Output<string>;
    kubeconfig: pulumi.Output<string>;
    migStrategy: string;
    gpuResources: Record<string, Record<string, number>>;
  } | null;
  readonly vms: Record<
    string,
    {
      ip: string;
      ssh: string;
      cluster: string;
      role: string;
      gpus: string[];
      restartRequired: pulumi.Output<boolean> | boolean;
    }
  >;
  /** Every VM's pinned SSH host key, as `known_hosts` lines (public; not a secret). */
  readonly knownHosts: pulumi.Output<string>;
  readonly mdevMap: pulumi.Output<ReturnType<typeof mdevMap>>;
  readonly plan: {
    stack: string;
    gpus: { id: string; attach: string; migEnabled: boolean; resetRequired: boolean; instances: string[] }[];
    vmCount: number;
    warnings: string[];
  };
  readonly planJson: string;
  /** The stack's identity (`hyperscaler render --stack-id` reproduces the deployed libvirt UUIDs with it). */
  readonly stackId: pulumi.Output<string>;
}

export async function buildStack(settings: StackSettings, hostOverride?: HostInventory): Promise<StackOutputs> {
  const loaded = loadSpecSourceOrThrow(settings.clusterFile);
  const spec = loaded.spec;
  const uri = settings.libvirtUri ?? spec.host.libvirt_uri;
  const host =
    hostOverride ??
    (settings.hostSnapshot
      ? loadHost(settings.hostSnapshot, uri)
      : await probeLive({ libvirtUri: uri, diskPath: spec.host.storage_pool.path }));
  const plan = buildPlan({ spec, host, previous: previousPlan(settings.previousPlan) });
  if (!plan.feasible) {
    const refusals = plan.errors
      .map((issue) => planIssueDiagnostic(issue, loaded.place))
      .map((d) => formatHuman(d, loaded.lines?.[d.line - 1]));
    throw new StackInputError(`the plan for ${settings.clusterFile} is not feasible:\n${refusals.join("\n")}`);
  }
  for (const warning of plan.warnings) void pulumi.log.warn(warning.message);

  const pool = spec.host.storage_pool;
  const imageOf = new Map<string, RoleImage>();
  for (const role of new Set(plan.vms.map((vm) => vm.role))) {
    try {
      imageOf.set(role, roleImage(spec, role));
    } catch (error) {
      // An unbuilt golden image is the user's to fix (the message says how), not a program bug.
      throw error instanceof MissingImageError ? new StackInputError(error.message) : error;
    }
  }
  const image = new BaseImage("base", {
    uri,
    pool,
    images: [...new Map([...imageOf.values()].map((i) => [i.disk.name, i])).values()],
  });
  // The stack's identity, kept in its state: libvirt UUIDs derive from it, so objects of another stack (a
  // second checkout of the same spec) never match ours and the providers refuse to touch them.
  const stackId = new random.RandomUuid("stack-identity", {}).result;
  // Network isolation: the stack's nftables table exists before libvirt routes any VM network.
  const firewall = hostFirewallOn(spec, plan) ? new HostFirewall("host-firewall", { spec, plan, uri }) : undefined;
  const networks = new Map(
    plan.networks.map((network) => [
      network.name,
      new ClusterNetwork(
        `net-${network.name.replace(/_/g, "-")}`,
        { plan, network, uri, stackId, start: settings.start, hostFirewall: firewall !== undefined },
        { dependsOn: firewall ? [firewall] : [] },
      ),
    ]),
  );
  const gpuHost = new GpuHost("gpu-host", { gpus: plan.gpus, force: spec.global.gpu_allocation.force_recarve });
  const extraKeys = settings.sshPublicKey ? [settings.sshPublicKey] : [];
  const vmArgs = (vm: PlannedVm): VmSettings => {
    const imported = image.images.get(imageOf.get(vm.role)!.disk.name)!;
    return {
      spec,
      plan,
      vm,
      uri,
      // The pool resource's output, not the plain name: volumes depend on the pool (created after it,
      // deleted before it).
      pool: image.pool.name,
      poolAdopted: image.pool.adopted,
      basePath: imported.path,
      directBoot: imported.boot,
      domainType: domainTypeOf(spec),
      network: networks.get(vm.network)!.vmNetwork,
      gpuDevices: gpuHost.devicesByVm.get(vm.name) ?? [],
      vfAddresses: gpuHost.vfAddressesFor(vm.name),
      start: settings.start,
      extraKeys,
      stackId,
    };
  };
  const slurm = spec.clusters.hpc
    ? new SlurmCluster(
        "slurm",
        { vms: plan.vms.filter((vm) => vm.cluster === "hpc"), adminUser: spec.security.admin_user, vmArgs },
        { dependsOn: [image] },
      )
    : undefined;
  // Add-ons need a running API server: only when the VMs are started.
  const kubernetes = spec.clusters.cloud
    ? new KubernetesCluster("k8s", { spec, plan, vmArgs, addons: settings.start }, { dependsOn: [image] })
    : undefined;
  const mlops = kubernetes?.addons
    ? new MlopsServices(
        "mlops",
        { spec, plan, storageClass: kubernetes.addons.storageClass },
        { provider: kubernetes.provider, dependsOn: [kubernetes.addons] },
      )
    : undefined;

  const vmsBuilt = [...(slurm?.vms ?? []), ...(kubernetes?.vms ?? [])];
  const builtByName = new Map(vmsBuilt.map((built) => [built.vmName, built]));
  return {
    slurm: slurm ? { controllerAddress: slurm.controllerAddress, sinfo: slurm.sinfoCommand, nodes: slurm.nodes } : null,
    services: mlops?.endpoints ?? {},
    kubernetes: kubernetes
      ? {
          apiServer: kubernetes.apiServer,
          caCertHash: kubernetes.caCertHash,
          kubeconfig: kubernetes.kubeconfig,
          migStrategy: kubernetes.migStrategy,
          gpuResources: kubernetes.gpuResources,
        }
      : null,
    vms: Object.fromEntries(
      plan.vms.map((vm) => [
        vm.name,
        {
          ip: vm.ip,
          ssh: `ssh ${spec.security.admin_user}@${vm.ip}`,
          cluster: vm.cluster,
          role: vm.role,
          gpus: vm.gpus.map((g) => `${g.gpu}:${g.profile ?? g.vgpuType ?? g.kind}`),
          // Changes that wait for the VM's next boot (vCPUs, memory, cloud-init configuration).
          restartRequired: builtByName.get(vm.name)?.restartRequired ?? false,
        },
      ]),
    ),
    knownHosts: pulumi.all(vmsBuilt.map((vm) => vm.knownHosts)).apply((lines) => lines.join("\n") + "\n"),
    // SR-IOV vGPUs name their VF as parent, known once the GPU host has created them.
    mdevMap: gpuHost.allVfAddresses().apply((vf) => mdevMap(plan, vf)),
    plan: {
      stack: plan.stack,
      gpus: plan.gpus.map((g) => ({
        id: g.id,
        attach: g.attach,
        migEnabled: g.migEnabled,
        resetRequired: g.resetRequired,
        instances: g.instances.map((i) => `${i.profile}@${i.start}->${i.assignedTo}`),
      })),
      vmCount: plan.vms.length,
      warnings: plan.warnings.map((w) => w.message),
    },
    planJson: JSON.stringify(plan),
    stackId,
  };
}
