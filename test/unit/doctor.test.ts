// Doctor: every check in every status it can take, each FAIL/WARN with a remediation.
import { describe, expect, it } from "vitest";
import { runDoctor, type CheckStatus } from "../../src/preflight/doctor";
import type { HostGpu, HostInventory } from "../../src/host/types";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { healthyInventory, hostGpu } from "../fixtures/host";
import { fixture } from "../helpers";

function spec(edit: (text: string) => string = (t) => t): ClusterSpec {
  const result = loadSpecText("cluster.yaml", edit(fixture("user-example.yaml")));
  if (!result.ok) throw new Error(result.errors.map((e) => e.message).join("\n"));
  return result.spec;
}

const A100 = (fields: Partial<HostGpu> = {}): HostGpu =>
  hostGpu({ pciAddress: "0000:65:00.0", name: "NVIDIA A100 80GB PCIe", pciDeviceId: "10de:20b5", ...fields });
const RTX = (fields: Partial<HostGpu> = {}): HostGpu =>
  hostGpu({
    pciAddress: "0000:ca:00.0",
    name: "NVIDIA RTX 6000",
    index: 1,
    boundDriver: "vfio-pci",
    iommuGroup: 40,
    migCapable: false,
    migMode: null,
    vgpu: { framework: null, types: [] },
    ...fields,
  });
const healthy = (): HostInventory => healthyInventory([A100(), RTX()]);

type Case = [id: string, status: CheckStatus, host: HostInventory, withSpec?: ClusterSpec];
const with_ = (fields: Partial<HostInventory>): HostInventory => ({ ...healthy(), ...fields });

const CASES: Case[] = [
  ["cpu-virtualization", "PASS", healthy()],
  ["cpu-virtualization", "FAIL", with_({ cpu: { ...healthy().cpu, virtualization: null } })],
  [
    "cpu-virtualization",
    "WARN",
    with_({ cpu: { ...healthy().cpu, virtualization: null } }),
    spec((t) => `${t}\nhost:\n  virtualization: emulated\n`),
  ],
  ["kvm", "PASS", healthy()],
  [
    "kvm",
    "WARN",
    with_({ kvm: { device: false, accessible: false } }),
    spec((t) => `${t}\nhost:\n  virtualization: emulated\n`),
  ],
  ["kvm", "FAIL", with_({ kvm: { device: false, accessible: false } })],
  ["kvm", "FAIL", with_({ kvm: { device: true, accessible: false } })],
  ["virtualization", "PASS", healthy()],
  ["virtualization", "PASS", healthy(), spec()],
  ["virtualization", "WARN", healthy(), spec((t) => `${t}\nhost:\n  virtualization: emulated\n`)],
  // PVM: /dev/kvm without vmx/svm. Without a spec: a warning naming the cause; a kvm spec fails; emulated passes.
  ["virtualization", "WARN", with_({ cpu: { ...healthy().cpu, virtualization: null } })],
  ["virtualization", "FAIL", with_({ cpu: { ...healthy().cpu, virtualization: null } }), spec()],
  [
    "virtualization",
    "PASS",
    with_({ kvm: { device: false, accessible: false } }),
    spec((t) => `${t}\nhost:\n  virtualization: emulated\n`),
  ],
  ["iommu", "PASS", healthy()],
  ["iommu", "FAIL", with_({ iommu: { enabled: false, groups: [] } })],
  ["iommu", "WARN", with_({ iommu: { enabled: null, groups: [] } })],
  ["iommu", "WARN", { ...healthyInventory([]), iommu: { enabled: false, groups: [] } }],
  ["libvirt", "PASS", healthy()],
  ["libvirt", "FAIL", with_({ libvirt: { reachable: false, version: null, uri: "qemu:///system" } })],
  ["nouveau", "PASS", healthy()],
  ["nouveau", "FAIL", with_({ nouveau: { loaded: true, blacklisted: false } })],
  ["nouveau", "WARN", with_({ nouveau: { loaded: false, blacklisted: false } })],
  ["iommu-group-0000:65:00.0", "PASS", healthy()],
  ["iommu-group-0000:65:00.0", "WARN", healthyInventory([A100({ iommuIsolated: false })])],
  ["iommu-group-0000:65:00.0", "WARN", healthyInventory([A100({ iommuIsolated: null })])],
  ["gpu-GPU-0-present", "PASS", healthy(), spec()],
  ["gpu-GPU-0-present", "FAIL", healthyInventory([RTX()]), spec()],
  ["gpu-GPU-1-present", "PASS", healthy(), spec()],
  ["gpu-GPU-1-driver", "PASS", healthy(), spec()],
  ["gpu-GPU-1-driver", "WARN", healthyInventory([A100(), RTX({ boundDriver: "nvidia" })]), spec()],
  ["gpu-GPU-0-driver", "PASS", healthy(), spec()],
  ["gpu-GPU-0-driver", "FAIL", healthyInventory([A100({ boundDriver: "vfio-pci" }), RTX()]), spec()],
  ["gpu-GPU-0-mig", "PASS", healthy(), spec()],
  ["gpu-GPU-0-mig", "WARN", healthyInventory([A100({ migMode: { current: false, pending: false } }), RTX()]), spec()],
  ["gpu-GPU-0-mig", "FAIL", healthyInventory([A100({ migCapable: false }), RTX()]), spec()],
  ["gpu-GPU-0-reset", "WARN", healthyInventory([A100({ migMode: { current: false, pending: true } }), RTX()]), spec()],
  [
    "gpu-GPU-0-reset",
    "FAIL",
    {
      ...healthyInventory([A100({ migMode: { current: false, pending: true } }), RTX()]),
      resetBlockers: ["nvidia_drm module loaded"],
    },
    spec(),
  ],
  ["gpu-GPU-0-vgpu", "PASS", healthy(), spec()],
  ["gpu-GPU-0-vgpu", "FAIL", healthyInventory([A100({ vgpu: { framework: null, types: [] } }), RTX()]), spec()],
  ["capacity-memory", "PASS", healthy(), spec()],
  ["capacity-memory", "FAIL", with_({ memory: { totalMiB: 64 * 1024 } }), spec()],
  ["capacity-cpu", "PASS", healthy(), spec()],
  ["capacity-cpu", "WARN", with_({ cpu: { ...healthy().cpu, threads: 34 } }), spec()],
  ["capacity-cpu", "FAIL", with_({ cpu: { ...healthy().cpu, threads: 8 } }), spec()],
  ["capacity-disk", "PASS", healthy(), spec()],
  ["capacity-disk", "WARN", with_({ disk: { path: "/var/lib/libvirt/images", freeGiB: 50 } }), spec()],
];

describe("doctor checks", () => {
  it.each(
    CASES.map(([id, status, host, withSpec], n) => [`${id} ${status} #${n}`, id, status, host, withSpec] as const),
  )("%s", (_name, id, status, host, withSpec) => {
    const checks = runDoctor(host, withSpec);
    const check = checks.find((c) => c.id === id);
    expect(check, `checks: ${checks.map((c) => `${c.id}=${c.status}`).join(", ")}`).toBeDefined();
    expect(check!.status).toBe(status);
    expect(check!.message.length).toBeGreaterThan(10);
    if (status === "PASS") expect(check!.remediation).toBeNull();
    else expect(check!.remediation).toMatch(/\w{4,}/);
  });

  it("covers every check id the healthy host with a spec produces", () => {
    const ids = new Set(runDoctor(healthy(), spec()).map((c) => c.id));
    const tested = new Set(CASES.map(([id]) => id));
    expect([...ids].filter((id) => !tested.has(id) && !id.startsWith("iommu-group-0000:ca"))).toEqual([]);
  });

  it("a healthy host has no FAIL", () => {
    expect(runDoctor(healthy(), spec()).filter((c) => c.status !== "PASS")).toEqual([]);
  });
});
