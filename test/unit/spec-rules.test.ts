// One invalid config per rule: each case edits the user's example and names the JSON pointer,
// the line (found through a marker in the edited text) and the message the loader must report.
import { describe, expect, it } from "vitest";
import { loadSpecText } from "../../src/spec/load";
import { fixture, lineOf } from "../helpers";

const BASE = fixture("user-example.yaml");

interface Case {
  readonly name: string;
  readonly edits: readonly [string, string][];
  readonly pointer: string;
  /** Text on the line the error must point at (in the edited file). */
  readonly marker: string;
  readonly message: RegExp;
  readonly hint?: RegExp;
}

const HPC_CTL = 'controller:    { cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10" }';
const ctl = (replacement: string): [string, string] => [HPC_CTL, `controller:    { ${replacement} }`];

const CASES: Case[] = [
  // Schema: structure, types, bounds, enums, patterns.
  {
    name: "version missing",
    edits: [['version: "1.0"\n', ""]],
    pointer: "",
    marker: "metadata",
    message: /missing required key "version"/,
  },
  {
    name: "version unknown",
    edits: [['version: "1.0"', 'version: "2.0"']],
    pointer: "/version",
    marker: "version",
    message: /version must be one of 1\.0; found "2\.0"/,
  },
  {
    name: "version as number",
    edits: [['version: "1.0"', "version: 1.0"]],
    pointer: "/version",
    marker: "version",
    message: /must be a string, found a/,
    hint: /quoted/,
  },
  {
    name: "unknown top-level key",
    edits: [["clusters:", "clusterz:"]],
    pointer: "/clusterz",
    marker: "clusterz:",
    message: /unknown key "clusterz"/,
    hint: /did you mean "clusters"/,
  },
  {
    name: "typo cpu_core",
    edits: [ctl('cpu_core: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"')],
    pointer: "/clusters/hpc/controller/cpu_core",
    marker: "cpu_core:",
    message: /unknown key "cpu_core"/,
    hint: /did you mean "cpu_cores"/,
  },
  {
    name: "metadata name pattern",
    edits: [['name: "hyperscaler-emulation"', 'name: "Hyperscaler_Emu"']],
    pointer: "/metadata/name",
    marker: "Hyperscaler_Emu",
    message: /name "Hyperscaler_Emu" is not lowercase letters/,
  },
  {
    name: "memory below minimum",
    edits: [ctl('cpu_cores: 4, memory_gb: 0, disk_gb: 100, ip_address: "192.168.100.10"')],
    pointer: "/clusters/hpc/controller/memory_gb",
    marker: "memory_gb: 0",
    message: /memory_gb must be at least 1, found 0/,
  },
  {
    name: "cpu cores as string",
    edits: [ctl('cpu_cores: "4", memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"')],
    pointer: "/clusters/hpc/controller/cpu_cores",
    marker: 'cpu_cores: "4"',
    message: /cpu_cores must be an integer, found a string "4"/,
    hint: /remove the quotes/,
  },
  {
    name: "disk too small",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 5, ip_address: "192.168.100.10"')],
    pointer: "/clusters/hpc/controller/disk_gb",
    marker: "disk_gb: 5",
    message: /disk_gb must be at least 10/,
  },
  {
    name: "cpu cores above maximum",
    edits: [ctl('cpu_cores: 1000, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.10"')],
    pointer: "/clusters/hpc/controller/cpu_cores",
    marker: "cpu_cores: 1000",
    message: /cpu_cores must be at most 256, found 1000/,
  },
  {
    name: "negative count",
    edits: [["count: 4,", "count: -1,"]],
    pointer: "/clusters/hpc/compute_nodes/count",
    marker: "count: -1",
    message: /count must be at least 0/,
  },
  {
    name: "gpu_enabled not boolean",
    edits: [
      [
        "compute_nodes: { count: 4, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: true",
        'compute_nodes: { count: 4, cpu_cores: 8, memory_gb: 16, disk_gb: 200, gpu_enabled: "yes"',
      ],
    ],
    pointer: "/clusters/hpc/compute_nodes/gpu_enabled",
    marker: 'gpu_enabled: "yes"',
    message: /gpu_enabled must be a boolean/,
  },
  {
    name: "strategy enum",
    edits: [['strategy: "hybrid"', 'strategy: "hybird"']],
    pointer: "/global/gpu_allocation/strategy",
    marker: "hybird",
    message: /strategy must be one of mig, whole, hybrid/,
    hint: /did you mean "hybrid"/,
  },
  {
    name: "ingress enum",
    edits: [['ingress: "nginx"', 'ingress: "traefik"']],
    pointer: "/clusters/cloud/kubernetes_config/ingress",
    marker: "traefik",
    message: /ingress must be one of nginx, none/,
  },
  {
    name: "bridge name too long",
    edits: [['bridge: "virbr100"', 'bridge: "virbr-for-the-hpc-net"']],
    pointer: "/global/networks/hpc_network/bridge",
    marker: "virbr-for-the-hpc-net",
    message: /is not a Linux interface name/,
  },
  {
    name: "pci address format",
    edits: [['pci_address: "0000:65:00.0"', 'pci_address: "65:00.0"']],
    pointer: "/global/gpu_allocation/devices/0/pci_address",
    marker: '"65:00.0"',
    message: /is not DDDD:BB:DD\.F/,
  },
  {
    name: "ip address syntax",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: 'ip_address: "192.168.100"',
    message: /is not an IPv4 address such as/,
  },
  {
    name: "network name pattern",
    edits: [
      ["hpc_network:   {", "HPC-Net:   {"],
      ["compute_nodes", "network: HPC-Net\n    compute_nodes"],
    ],
    pointer: "/global/networks/HPC-Net",
    marker: "HPC-Net:",
    message: /name "HPC-Net" .* must be lowercase/,
  },
  {
    name: "duplicate yaml key",
    edits: [['version: "1.0"', 'version: "1.0"\nversion: "1.1"']],
    pointer: "",
    marker: '"1.1"',
    message: /duplicate key/,
  },
  // Addresses.
  {
    name: "subnet prefix over 32",
    edits: [['subnet: "192.168.100.0/24"', 'subnet: "192.168.100.0/33"']],
    pointer: "/global/networks/hpc_network/subnet",
    marker: "/33",
    message: /prefix \/33 is larger than \/32/,
  },
  {
    name: "subnet host bits set",
    edits: [['subnet: "192.168.100.0/24"', 'subnet: "192.168.100.5/24"']],
    pointer: "/global/networks/hpc_network/subnet",
    marker: "192.168.100.5/24",
    message: /host bits are set/,
    hint: /write 192\.168\.100\.0\/24/,
  },
  {
    name: "subnet bad octet",
    edits: [['subnet: "192.168.100.0/24"', 'subnet: "192.168.300.0/24"']],
    pointer: "/global/networks/hpc_network/subnet",
    marker: "192.168.300.0/24",
    message: /"192\.168\.300\.0" is not an IPv4 address/,
  },
  {
    name: "subnet prefix too small for VMs",
    edits: [['subnet: "192.168.200.0/24"', 'subnet: "192.168.200.0/30"']],
    pointer: "/global/networks/cloud_network/subnet",
    marker: "192.168.200.0/30",
    message: /prefix \/30; VM networks use \/8 to \/29/,
  },
  {
    name: "networks overlap",
    edits: [['subnet: "192.168.200.0/24"', 'subnet: "192.168.0.0/16"']],
    pointer: "/global/networks/cloud_network/subnet",
    marker: "192.168.0.0/16",
    message: /overlaps 192\.168\.100\.0\/24 of network hpc_network/,
  },
  {
    name: "bridge used twice",
    edits: [['bridge: "virbr200"', 'bridge: "virbr100"']],
    pointer: "/global/networks/cloud_network/bridge",
    marker: 'subnet: "192.168.200.0/24", bridge: "virbr100"',
    message: /bridge virbr100 is used by networks hpc_network and cloud_network/,
  },
  {
    name: "controller outside subnet",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.200.50"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: "192.168.200.50",
    message: /outside its cluster's subnet 192\.168\.100\.0\/24/,
  },
  {
    name: "controller on gateway",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.1"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: '"192.168.100.1"',
    message: /is the gateway of 192\.168\.100\.0\/24/,
  },
  {
    name: "controller on network address",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.0"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: '"192.168.100.0"',
    message: /is the network address/,
  },
  {
    name: "controller on broadcast",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.255"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: "192.168.100.255",
    message: /is the broadcast address/,
  },
  {
    name: "controller ip with leading zero",
    edits: [ctl('cpu_cores: 4, memory_gb: 8, disk_gb: 100, ip_address: "192.168.100.010"')],
    pointer: "/clusters/hpc/controller/ip_address",
    marker: "192.168.100.010",
    message: /is not a valid IPv4 address/,
  },
  {
    name: "duplicate node address",
    edits: [['ip_address: "192.168.200.10"', 'ip_address: "192.168.200.11"']],
    pointer: "/clusters/cloud/worker_nodes/cpu_workers/ip_range",
    marker: 'ip_range: "192.168.200.11"',
    message: /192\.168\.200\.11 is already used by cloud\.control_plane address/,
  },
  {
    name: "range size differs from count",
    edits: [['ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.11-13"']],
    pointer: "/clusters/hpc/compute_nodes/ip_range",
    marker: "192.168.100.11-13",
    message: /holds 3 address\(es\) but count is 4/,
    hint: /write 192\.168\.100\.11-14 or set count: 3/,
  },
  {
    name: "range backwards",
    edits: [['ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.14-11"']],
    pointer: "/clusters/hpc/compute_nodes/ip_range",
    marker: "192.168.100.14-11",
    message: /runs backwards/,
  },
  {
    name: "range octet over 255",
    edits: [['ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.11-300"']],
    pointer: "/clusters/hpc/compute_nodes/ip_range",
    marker: "192.168.100.11-300",
    message: /last octet 300 is larger than 255/,
  },
  {
    name: "pool without range",
    edits: [[', gpu_enabled: true,\n                     ip_range: "192.168.100.11-14" }', ", gpu_enabled: true }"]],
    pointer: "/clusters/hpc/compute_nodes",
    marker: "compute_nodes:",
    message: /has 4 node\(s\) but no ip_range/,
    hint: /add ip_range: "192\.168\.100\.11-14"/,
  },
  {
    name: "cluster network undefined",
    edits: [["  cloud:\n    control_plane", "  cloud:\n    network: storage_network\n    control_plane"]],
    pointer: "/clusters/cloud/network",
    marker: "storage_network",
    message: /uses network "storage_network", which global\.networks does not define/,
  },
  {
    name: "pod cidr overlaps a network",
    edits: [['storage_class: "local-path" }', 'storage_class: "local-path", pod_cidr: "192.168.0.0/16" }']],
    pointer: "/clusters/cloud/kubernetes_config/pod_cidr",
    marker: "pod_cidr",
    message: /pod_cidr 192\.168\.0\.0\/16 overlaps network hpc_network/,
  },
  // GPUs.
  {
    name: "duplicate gpu id",
    edits: [['id: "GPU-1"', 'id: "GPU-0"']],
    pointer: "/global/gpu_allocation/devices/1/id",
    marker: 'pci_address: "0000:ca:00.0"',
    message: /GPU id "GPU-0" is used by devices 0 and 1/,
  },
  {
    name: "duplicate pci address",
    edits: [['pci_address: "0000:ca:00.0"', 'pci_address: "0000:65:00.0"']],
    pointer: "/global/gpu_allocation/devices/1/pci_address",
    marker: 'id: "GPU-1"',
    message: /PCI address 0000:65:00\.0 is declared by devices 0 \(GPU-0\) and 1 \(GPU-1\)/,
  },
  {
    name: "mig profile misspelt",
    edits: [['allowed_mig_profiles: ["1g.10gb"', 'allowed_mig_profiles: ["1g.10g"']],
    pointer: "/global/gpu_allocation/devices/0/allowed_mig_profiles/0",
    marker: '1g.10g"',
    message: /MIG profile "1g\.10g" does not exist on NVIDIA A100 80GB/,
    hint: /did you mean 1g\.10gb\?/,
  },
  {
    name: "mig profile of another model",
    edits: [['"3g.40gb", "7g.80gb"', '"3g.20gb", "7g.80gb"']],
    pointer: "/global/gpu_allocation/devices/0/allowed_mig_profiles/2",
    marker: '"3g.20gb"',
    message: /"3g\.20gb" does not exist on NVIDIA A100 80GB/,
  },
  {
    name: "mig on a non-MIG model",
    edits: [['model: "NVIDIA RTX 6000", mig_capable: false', 'model: "NVIDIA RTX 6000", mig_capable: true']],
    pointer: "/global/gpu_allocation/devices/1/model",
    marker: "NVIDIA RTX 6000",
    message: /does not support MIG .* but mig_capable is true/,
    hint: /set mig_capable: false/,
  },
  {
    name: "unknown MIG model",
    edits: [['model: "NVIDIA A100 80GB"', 'model: "NVIDIA Z9000"']],
    pointer: "/global/gpu_allocation/devices/0/model",
    marker: "Z9000",
    message: /"NVIDIA Z9000" is not in the MIG profile catalog/,
  },
  {
    name: "allowed profiles on non-MIG gpu",
    edits: [["mig_capable: false }", 'mig_capable: false, allowed_mig_profiles: ["1g.10gb"] }']],
    pointer: "/global/gpu_allocation/devices/1/allowed_mig_profiles",
    marker: "mig_capable: false, allowed",
    message: /lists allowed_mig_profiles but mig_capable is false/,
  },
  {
    name: "mig-vgpu attach on non-MIG gpu",
    edits: [["mig_capable: false }", "mig_capable: false, attach: mig-vgpu }"]],
    pointer: "/global/gpu_allocation/devices/1/attach",
    marker: "attach: mig-vgpu",
    message: /attach mig-vgpu needs a MIG-capable GPU/,
  },
  {
    name: "vgpu attach without type",
    edits: [["mig_capable: false }", "mig_capable: false, attach: vgpu }"]],
    pointer: "/global/gpu_allocation/devices/1/attach",
    marker: "attach: vgpu",
    message: /has attach: vgpu but no vgpu_type/,
  },
  {
    name: "slices under strategy whole",
    edits: [['strategy: "hybrid"', 'strategy: "whole"']],
    pointer: "/global/gpu_allocation/mig_slices",
    marker: "mig_slices",
    message: /strategy whole allows no MIG slices, but mig_slices asks for 7/,
  },
  {
    name: "whole gpus under strategy mig",
    edits: [['strategy: "hybrid"', 'strategy: "mig"']],
    pointer: "/global/gpu_allocation/whole_gpus",
    marker: "whole_gpus",
    message: /strategy mig allows no whole GPUs/,
  },
  {
    name: "slices oversubscribed",
    edits: [
      ["mig_slices: { hpc: 4, cloud: 3 }", "mig_slices: { hpc: 5, cloud: 3 }"],
      ["count: 4,", "count: 5,"],
      ['ip_range: "192.168.100.11-14"', 'ip_range: "192.168.100.11-15"'],
    ],
    pointer: "/global/gpu_allocation/mig_slices",
    marker: "mig_slices",
    message: /ask for 8 compute slices but the MIG devices hold 7/,
  },
  {
    name: "whole gpus oversubscribed",
    edits: [["whole_gpus: { hpc: 0, cloud: 1 }", "whole_gpus: { hpc: 1, cloud: 1 }"]],
    pointer: "/global/gpu_allocation/whole_gpus",
    marker: "whole_gpus",
    message: /asks for 2 whole GPU\(s\) but only 1 device\(s\) are free for passthrough/,
  },
  {
    name: "profile list with unavailable profile",
    edits: [["mig_slices: { hpc: 4, cloud: 3 }", "mig_slices: { hpc: [{ profile: 4g.40gb, count: 4 }], cloud: 3 }"]],
    pointer: "/global/gpu_allocation/mig_slices/hpc/0/profile",
    marker: "mig_slices",
    message: /"4g\.40gb" is not available on any MIG device/,
    hint: /allowed by allowed_mig_profiles/,
  },
  {
    name: "profile list pinned to unknown device",
    edits: [
      [
        "mig_slices: { hpc: 4, cloud: 3 }",
        "mig_slices: { hpc: [{ profile: 1g.10gb, count: 4, device: GPU-9 }], cloud: 3 }",
      ],
    ],
    pointer: "/global/gpu_allocation/mig_slices/hpc/0/device",
    marker: "mig_slices",
    message: /device "GPU-9" is not declared/,
  },
  {
    name: "vgpu shares without vgpu device",
    edits: [["whole_gpus: { hpc: 0, cloud: 1 }", "whole_gpus: { hpc: 0, cloud: 1 }\n    vgpu_shares: { cloud: 2 }"]],
    pointer: "/global/gpu_allocation/vgpu_shares",
    marker: "vgpu_shares",
    message: /asks for 2 vGPU\(s\) but no device has attach: vgpu/,
  },
  {
    name: "gpu nodes without enough shares",
    edits: [["mig_slices: { hpc: 4, cloud: 3 }", "mig_slices: { hpc: 2, cloud: 3 }"]],
    pointer: "/clusters/hpc/compute_nodes/gpu_enabled",
    marker: "compute_nodes:",
    message: /4 GPU-enabled hpc node\(s\) but the hpc cluster receives only 2 GPU share\(s\)/,
    hint: /raise gpu_allocation\.mig_slices\.hpc to 4/,
  },
  {
    name: "shares without gpu nodes",
    edits: [
      [
        'disk_gb: 200, gpu_enabled: true,\n                     ip_range: "192.168.100.11-14"',
        'disk_gb: 200, gpu_enabled: false,\n                     ip_range: "192.168.100.11-14"',
      ],
    ],
    pointer: "/global/gpu_allocation/mig_slices/hpc",
    marker: "mig_slices",
    message: /receives 4 GPU share\(s\) but none of its node pools has gpu_enabled: true/,
  },
  {
    name: "cpu workers marked gpu",
    edits: [
      [
        "cpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 100,",
        "cpu_workers: { count: 1, cpu_cores: 4, memory_gb: 8, disk_gb: 100, gpu_enabled: true,",
      ],
    ],
    pointer: "/clusters/cloud/worker_nodes/cpu_workers/gpu_enabled",
    marker: "cpu_workers",
    message: /cpu_workers cannot be gpu_enabled/,
  },
  // Slurm and services.
  {
    name: "default partition missing",
    edits: [['default_partition: "gpu"', 'default_partition: "batch"']],
    pointer: "/clusters/hpc/slurm_config/default_partition",
    marker: "batch",
    message: /default_partition "batch" is not one of partitions \(gpu, debug\)/,
  },
  {
    name: "max job time minutes over 59",
    edits: [['max_job_time: "24:00:00"', 'max_job_time: "24:61:00"']],
    pointer: "/clusters/hpc/slurm_config/max_job_time",
    marker: "24:61:00",
    message: /max_job_time "24:61:00" is not a Slurm time/,
  },
  {
    name: "max job time words",
    edits: [['max_job_time: "24:00:00"', 'max_job_time: "1 day"']],
    pointer: "/clusters/hpc/slurm_config/max_job_time",
    marker: "1 day",
    message: /is not a Slurm time/,
    hint: /1-00:00:00/,
  },
  {
    name: "mlflow without postgresql",
    edits: [
      ['storage_class: "local-path" }', 'storage_class: "local-path" }\nservices:\n  postgresql: { enabled: false }'],
    ],
    pointer: "/services/postgresql/enabled",
    marker: "postgresql: { enabled: false }",
    message: /mlflow is enabled but postgresql is not/,
  },
  {
    name: "allowed cidr invalid",
    edits: [
      ['storage_class: "local-path" }', 'storage_class: "local-path" }\nsecurity:\n  allowed_cidrs: ["10.0.0.1/8"]'],
    ],
    pointer: "/security/allowed_cidrs/0",
    marker: "allowed_cidrs",
    message: /allowed CIDR "10\.0\.0\.1\/8" is invalid: host bits are set/,
  },
  {
    name: "ssh key malformed",
    edits: [
      [
        'storage_class: "local-path" }',
        'storage_class: "local-path" }\nsecurity:\n  ssh_authorized_keys: ["AAAAC3NzaC1lZDI1NTE5"]',
      ],
    ],
    pointer: "/security/ssh_authorized_keys/0",
    marker: "ssh_authorized_keys",
    message: /is not an OpenSSH public key line/,
  },
];

function apply(edits: readonly [string, string][]): string {
  return edits.reduce((text, [from, to]) => {
    if (!text.includes(from)) throw new Error(`edit target not found: ${from}`);
    return text.replace(from, to);
  }, BASE);
}

describe("the user's example", () => {
  it("loads, with defaults filled", () => {
    const result = loadSpecText("cluster.yaml", BASE);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.global.gpu_allocation.devices[0].attach).toBe("auto");
    expect(result.spec.host.libvirt_uri).toBe("qemu:///system");
    expect(result.spec.clusters.hpc?.network).toBe("hpc_network");
    expect(result.spec.services.mlflow.enabled).toBe(true);
  });
});

describe("one invalid config per rule", () => {
  it("has at least 40 cases", () => expect(CASES.length).toBeGreaterThanOrEqual(40));

  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, testCase) => {
    const text = apply(testCase.edits);
    const result = loadSpecText("cluster.yaml", text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const match = result.errors.find((error) => testCase.message.test(error.message));
    expect(match, `errors were:\n${result.errors.map((e) => `${e.path} ${e.message}`).join("\n")}`).toBeDefined();
    expect(match!.path).toBe(testCase.pointer);
    expect(match!.line).toBe(lineOf(text, testCase.marker));
    expect(match!.column).toBeGreaterThan(0);
    if (testCase.hint) expect(match!.hint).toMatch(testCase.hint);
  });
});
