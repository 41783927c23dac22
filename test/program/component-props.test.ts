// Every component refuses bad props before it creates anything: it throws a ComponentArgsError (a
// RunError naming the problem, the value found, the value expected and the fix) and the engine never sees
// a registration, neither of the component nor of any child.
import * as path from "node:path";
import type * as k8s from "@pulumi/kubernetes";
import { beforeEach, describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import {
  BaseImage,
  buildPlan,
  ClusterNetwork,
  ComponentArgsError,
  GpuHost,
  HostFirewall,
  KubernetesAddons,
  KubernetesCluster,
  loadHost,
  loadSpecFile,
  MlopsServices,
  roleImage,
  SlurmCluster,
  VirtualMachine,
  type ClusterSpec,
  type Plan,
  type PlannedVm,
  type VmSettings,
} from "../../src";
import { ROOT } from "../helpers";
import { recorded, resetRecorded, settled } from "../mocks";

const HOST = path.join(ROOT, "test/fixtures/hosts/workstation.json");

function load(file: string, host?: string): { spec: ClusterSpec; plan: Plan } {
  const loaded = loadSpecFile(path.join(ROOT, file));
  if (!loaded.ok) throw new Error(`${file} does not load`);
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec, host: host ? loadHost(host) : undefined }) };
}

const dev = load("config/dev.yaml", HOST);
const prod = load("config/prod.yaml", HOST);
const noProvider = {} as { provider: k8s.Provider };

/** Settings for any VM of a plan; nothing in them is a resource, so only the component could register one. */
function vmSettings(spec: ClusterSpec, plan: Plan) {
  return (vm: PlannedVm): VmSettings => ({
    spec,
    plan,
    vm,
    uri: "qemu:///system",
    pool: "hyperscaler",
    basePath: "/pool/base.qcow2",
    stackId: "stack-id",
    network: { planName: vm.network, libvirtName: `${plan.stack}-${vm.network.replace(/_/g, "-")}` },
  });
}

/** Runs `make`, expects the refusal, and proves nothing was registered. */
async function refuses(make: () => unknown, message: RegExp): Promise<void> {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ComponentArgsError);
  expect(pulumi.RunError.isInstance(thrown)).toBe(true);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).toMatch(/; found .*, expected .*\. Fix: /);
  await settled();
  expect(recorded.map((r) => `${r.type} ${r.name}`)).toEqual([]);
}

describe("components refuse bad props before any child exists", () => {
  beforeEach(() => resetRecorded());

  it("BaseImage: no images, duplicate images, a relative pool path", async () => {
    const image = roleImage(dev.spec, "slurm-controller");
    const pool = dev.spec.host.storage_pool;
    await refuses(
      () => new BaseImage("base", { uri: "qemu:///system", pool, images: [] }),
      /BaseImage "base": images is empty/,
    );
    await refuses(
      () => new BaseImage("base", { uri: "qemu:///system", pool, images: [image, image] }),
      /two images have the same disk name; found "[^"]+"/,
    );
    await refuses(
      () => new BaseImage("base", { uri: "qemu:///system", pool: { ...pool, path: "images" }, images: [image] }),
      /pool.path is not absolute; found "images"/,
    );
  });

  it("ClusterNetwork: an empty URI, two VMs with one address", async () => {
    const network = dev.plan.networks[0];
    await refuses(() => new ClusterNetwork("net", { plan: dev.plan, network, uri: "", stackId: "id" }), /uri is empty/);
    const clash = { ...network, hosts: [network.hosts[0], { ...network.hosts[1], ip: network.hosts[0].ip }] };
    await refuses(
      () => new ClusterNetwork("net", { plan: dev.plan, network: clash, uri: "qemu:///system", stackId: "id" }),
      new RegExp(`two DHCP hosts with one address; found "${network.hosts[0].ip}"`),
    );
  });

  it("GpuHost: a vGPU without its type, before the MIG layout is made", async () => {
    const [gpu, ...rest] = prod.plan.gpus;
    const untyped = { ...gpu, instances: gpu.instances.map((i, n) => (n === 0 ? { ...i, vgpuType: null } : i)) };
    expect(gpu.migEnabled).toBe(true); // a MIG layout would have been the first child
    await refuses(
      () => new GpuHost("gpu-host", { gpus: [untyped, ...rest] }),
      /GpuHost "gpu-host": a vGPU has no vGPU type; found "GPU-0: vGPU [0-9a-f-]+".*Fix: plan with --host/,
    );
    await refuses(() => new GpuHost("gpu-host", { gpus: [gpu, gpu] }), /two GPUs have the same id; found "GPU-0"/);
  });

  it("HostFirewall: no networks to filter", async () => {
    await refuses(
      () =>
        new HostFirewall("fw", {
          spec: dev.spec,
          plan: { stack: dev.plan.stack, networks: [] },
          uri: "qemu:///system",
        }),
      /plan.networks is empty/,
    );
  });

  it("KubernetesAddons and MlopsServices: no cloud cluster, an empty storage class", async () => {
    const hpcOnly = { ...dev.spec, clusters: { hpc: dev.spec.clusters.hpc } };
    await refuses(
      () => new KubernetesAddons("addons", { spec: hpcOnly, plan: dev.plan }, noProvider),
      /the spec has no clusters.cloud/,
    );
    await refuses(
      () => new MlopsServices("mlops", { spec: dev.spec, plan: dev.plan, storageClass: " " }, noProvider),
      /MlopsServices "mlops": storageClass is empty; found " "/,
    );
  });

  it("KubernetesCluster: no control plane", async () => {
    const plan = { ...dev.plan, vms: dev.plan.vms.filter((vm) => vm.role !== "k8s-control-plane") };
    await refuses(
      () => new KubernetesCluster("k8s", { spec: dev.spec, plan, vmArgs: vmSettings(dev.spec, plan) }),
      /exactly one control plane; found \[\]/,
    );
  });

  it("SlurmCluster: no VMs, no controller, duplicate names, a Kubernetes VM", async () => {
    const hpc = dev.plan.vms.filter((vm) => vm.cluster === "hpc");
    const vmArgs = vmSettings(dev.spec, dev.plan);
    const slurm = (vms: readonly PlannedVm[]) => () =>
      new SlurmCluster("slurm", { vms, adminUser: "hyperscaler", vmArgs });
    await refuses(slurm([]), /SlurmCluster "slurm": vms is empty/);
    await refuses(slurm(hpc.filter((vm) => vm.role !== "slurm-controller")), /exactly one controller; found \[\]/);
    await refuses(slurm([...hpc, hpc[0]]), new RegExp(`two VMs have the same name; found "${hpc[0].name}"`));
    const k8s = dev.plan.vms.find((vm) => vm.cluster === "cloud")!;
    await refuses(slurm([...hpc, k8s]), new RegExp(`VM ${k8s.name} is not a Slurm VM; found "cloud", expected hpc`));
  });

  it("VirtualMachine: a network not the VM's, a libvirt network of another name, a VM of another plan", async () => {
    const vm = dev.plan.vms.find((v) => v.cluster === "hpc")!;
    const other = dev.plan.networks.find((n) => n.name !== vm.network)!;
    const settings = { ...vmSettings(dev.spec, dev.plan)(vm), roleSecrets: { mungeKeyBase64: "a2V5" } };
    await refuses(
      () => new VirtualMachine(vm.name, { ...settings, network: { planName: other.name, libvirtName: "x" } }),
      new RegExp(`is on network ${vm.network}, not on the network given; found "${other.name}"`),
    );
    await refuses(
      () => new VirtualMachine(vm.name, { ...settings, network: { planName: vm.network, libvirtName: "default" } }),
      /names libvirt network hs-dev-hpc-network, not the network given; found "default"/,
    );
    const gpuVm = prod.plan.vms.find((v) => v.gpus.some((gpu) => gpu.deviceUuid))!;
    await refuses(
      () => new VirtualMachine(gpuVm.name, { ...vmSettings(prod.spec, prod.plan)(gpuVm), roleSecrets: {} }),
      new RegExp(`VM ${gpuVm.name} is planned with 1 vGPU device\\(s\\), a different number was given; found 0`),
    );
    await refuses(
      () => new VirtualMachine(vm.name, { ...settings, vm: { ...vm, name: "stray" } }),
      /VM stray is not in the plan given/,
    );
  });

  it("valid props still build (the control for the refusals above)", async () => {
    const hpc = dev.plan.vms.filter((vm) => vm.cluster === "hpc");
    const gpuHost = new GpuHost("gpu-host", { gpus: dev.plan.gpus });
    const vmArgs = (vm: PlannedVm): VmSettings => ({
      ...vmSettings(dev.spec, dev.plan)(vm),
      gpuDevices: gpuHost.devicesByVm.get(vm.name) ?? [],
    });
    expect(hpc.some((vm) => vm.gpus.some((gpu) => gpu.deviceUuid))).toBe(true);
    new SlurmCluster("slurm", { vms: hpc, adminUser: "hyperscaler", vmArgs });
    await settled();
    expect(recorded.filter((r) => r.type.endsWith(":LibvirtDomain")).map((r) => r.inputs.name)).toEqual(
      hpc.map((vm) => vm.name),
    );
  });
});
