// NoCloud seeds: an instance-id that changes exactly when the VM's configuration does (so a changed spec
// reaches an existing VM at its next boot), role steps safe to re-run, and the pinned SSH host key.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildPlan } from "../../src/plan";
import type { Plan } from "../../src/plan/types";
import { gpuDriverLayer } from "../../src/render/cloud-init/gpu-driver";
import { kubernetesLayer, KUBERNETES_PLACEHOLDERS } from "../../src/render/cloud-init/kubernetes";
import { mergeCloudConfig, seedFiles } from "../../src/render/cloud-init/nocloud";
import { slurmLayer } from "../../src/render/cloud-init/slurm";
import { knownHostsLine, sshHostKeyLayer } from "../../src/render/cloud-init/ssh-host-key";
import { domainUuid } from "../../src/plan/ids";
import { loadSpecText } from "../../src/spec/load";
import type { ClusterSpec } from "../../src/spec/types";
import { ROOT, tempDir } from "../helpers";

const DEV = fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8");

function load(text: string): { spec: ClusterSpec; plan: Plan } {
  const loaded = loadSpecText("dev.yaml", text);
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => e.message).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

function instanceIds(text: string): Map<string, string> {
  const { spec, plan } = load(text);
  return new Map(
    plan.vms.map((vm) => {
      const layers =
        vm.cluster === "hpc"
          ? [slurmLayer(spec, plan, vm, "a2V5")]
          : [kubernetesLayer(spec, plan, vm, KUBERNETES_PLACEHOLDERS)];
      return [
        vm.name,
        (parse(seedFiles(spec, plan, vm, layers)["meta-data"]) as { "instance-id": string })["instance-id"],
      ];
    }),
  );
}

describe("NoCloud seeds", () => {
  it("instance-id is the domain UUID plus a digest of the VM's configuration, stable across runs", () => {
    const { plan } = load(DEV);
    const ids = instanceIds(DEV);
    for (const vm of plan.vms) expect(ids.get(vm.name)).toMatch(new RegExp(`^${domainUuid(plan, vm)}-[0-9a-f]{12}$`));
    expect(instanceIds(DEV)).toEqual(ids);
  });

  it("a changed Slurm setting gives the Slurm VMs a new instance-id and leaves the Kubernetes VMs alone", () => {
    const before = instanceIds(DEV);
    const after = instanceIds(DEV.replace('max_job_time: "4:00:00"', 'max_job_time: "8:00:00"'));
    const changed = [...before.keys()].filter((name) => before.get(name) !== after.get(name)).sort();
    expect(changed).toEqual(["hs-dev-slurm-ctl", "hs-dev-slurm-node-01"]);
    // The UUID part (the domain's identity) does not move.
    for (const name of changed) expect(after.get(name)!.slice(0, 36)).toBe(before.get(name)!.slice(0, 36));
  });

  it("kubeadm init and join are guarded, since a new instance-id runs them again on a live node", () => {
    const { spec, plan } = load(DEV);
    const commands = plan.vms
      .filter((vm) => vm.cluster === "cloud")
      .flatMap((vm) =>
        (kubernetesLayer(spec, plan, vm, KUBERNETES_PLACEHOLDERS).runcmd as unknown[][]).map((c) => c.join(" ")),
      );
    const kubeadm = commands.filter((c) => /kubeadm (init|join)/.test(c));
    expect(kubeadm).toEqual([
      "sh -c test -f /etc/kubernetes/admin.conf || kubeadm init --config /etc/kubernetes/kubeadm.yaml",
      "sh -c test -f /etc/kubernetes/kubelet.conf || kubeadm join --config /etc/kubernetes/kubeadm-join.yaml",
    ]);
  });

  it("the host-key layer installs the given ed25519 key and nothing else; known_hosts names the VM three ways", () => {
    const { plan } = load(DEV);
    const vm = plan.vms[0];
    const key = {
      privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
      publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZK9kdxpRi3GSti8MjwW5PYHNCI3B0jnviEzgeIBx5M comment@host\n",
    };
    expect(sshHostKeyLayer(key)).toEqual({
      ssh_deletekeys: true,
      ssh_keys: {
        ed25519_private: `${key.privateKey}\n`,
        ed25519_public: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHZK9kdxpRi3GSti8MjwW5PYHNCI3B0jnviEzgeIBx5M comment@host",
      },
    });
    expect(knownHostsLine(plan, vm, key.publicKey)).toBe(
      `${vm.name},${vm.name}.hpc-network.hs-dev.internal,${vm.ip} ssh-ed25519 ` +
        `AAAAC3NzaC1lZDI1NTE5AAAAIHZK9kdxpRi3GSti8MjwW5PYHNCI3B0jnviEzgeIBx5M`,
    );
  });

  it(
    "the vGPU guest driver script installs once per driver file and skips on a re-run (stubbed apt-get, curl, " +
      "nvidia-smi)",
    () => {
      const text = fs.readFileSync(path.join(ROOT, "config/examples/h100-mig-vgpu.yaml"), "utf8");
      const { spec: base, plan } = load(text);
      const sha256 = createHash("sha256").update("stand-in driver").digest("hex");
      const spec = {
        ...base,
        global: {
          ...base.global,
          gpu_allocation: {
            ...base.global.gpu_allocation,
            vgpu_guest_driver_url: "https://mirror.example/NVIDIA-Linux-x86_64-grid.run",
            vgpu_guest_driver_sha256: sha256,
          },
        },
      };
      const vm = plan.vms.find((v) => v.gpus.some((g) => g.kind === "mig-vgpu"))!;
      const files = gpuDriverLayer(spec, plan, vm).write_files as { path: string; content: string }[];
      const script = files.find((f) => f.path === "/usr/local/sbin/hyperscaler-vgpu-driver")!.content;
      const dir = tempDir("hs-vgpu-");
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(dir, "calls.log");
      // Stand-ins record their calls; nvidia-smi works once a driver "is installed" (the .run was executed).
      for (const command of ["apt-get", "curl", "systemctl"])
        fs.writeFileSync(
          path.join(bin, command),
          `#!/bin/sh\necho "${command} $*" | sed "s#[^ ]*/tmp\\.[A-Za-z0-9]*#TMP#" >> ${log}\n` +
            `${command === "curl" ? "printf 'stand-in driver' > \"$3\"" : ""}\n`,
          { mode: 0o755 },
        );
      fs.writeFileSync(path.join(bin, "uname"), "#!/bin/sh\necho 6.1.0-28-amd64\n", { mode: 0o755 });
      fs.writeFileSync(
        path.join(bin, "sh"),
        `#!/bin/bash\ncase "$1" in */nvidia-guest-driver.run) echo "install $*" | sed "s#[^ ` +
          `]*/tmp\\.[A-Za-z0-9]*#TMP#" >> ${log}; touch ${dir}/installed; exit 0 ;; esac\nexec /bin/sh "$@"\n`,
        { mode: 0o755 },
      );
      fs.writeFileSync(path.join(bin, "nvidia-smi"), `#!/bin/sh\ntest -f ${dir}/installed\n`, { mode: 0o755 });
      fs.writeFileSync(path.join(dir, "driver.sh"), script, { mode: 0o755 });
      const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin`, HYPERSCALER_STATE_DIR: path.join(dir, "state") };
      const first = spawnSync("/bin/sh", [path.join(dir, "driver.sh")], { env, encoding: "utf8" });
      expect(first.status, first.stderr).toBe(0);
      expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
        "apt-get install -y linux-headers-6.1.0-28-amd64 build-essential curl",
        "curl -fsSL -o TMP/nvidia-guest-driver.run https://mirror.example/NVIDIA-Linux-x86_64-grid.run",
        "install TMP/nvidia-guest-driver.run --silent --dkms",
        "systemctl enable --now nvidia-gridd",
      ]);
      fs.writeFileSync(log, "");
      const again = spawnSync("/bin/sh", [path.join(dir, "driver.sh")], { env, encoding: "utf8" });
      expect(again.status, again.stderr).toBe(0);
      expect(fs.readFileSync(log, "utf8").trim()).toBe("systemctl restart nvidia-gridd");
    },
  );

  it("layers that disagree on a key are refused rather than silently overwritten", () => {
    expect(mergeCloudConfig({ runcmd: [["a"]], hostname: "x" }, { runcmd: [["b"]] })).toEqual({
      runcmd: [["a"], ["b"]],
      hostname: "x",
    });
    expect(() => mergeCloudConfig({ hostname: "x" }, { hostname: "y" })).toThrow(
      "cloud-config layers disagree on hostname",
    );
  });
});
