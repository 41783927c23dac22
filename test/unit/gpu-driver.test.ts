// The guest GPU driver layer: kernel headers that match the running kernel (issue 15, bug 3), and a vGPU
// driver download that runs only when its SHA-256 is the spec's (issue 17). The rendered shell runs for
// real against stand-in apt-get/curl/uname/systemctl; sha256sum is the real one.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { buildPlan } from "../../src/plan";
import { gpuDriverLayer, vgpuDriverScript } from "../../src/render/cloud-init/gpu-driver";
import { loadSpecText } from "../../src/spec/load";
import { ROOT, tempDir } from "../helpers";

const KERNEL = "6.1.0-28-amd64";

function load(file: string, edit: (text: string) => string = (t) => t) {
  const loaded = loadSpecText(file, edit(fs.readFileSync(path.join(ROOT, file), "utf8")));
  if (!loaded.ok) throw new Error(loaded.errors.map((e) => `${e.message} ${e.hint ?? ""}`).join("\n"));
  return { spec: loaded.spec, plan: buildPlan({ spec: loaded.spec }) };
}

/** A directory of stand-in tools that log their arguments; curl writes `payload` to its -o file. */
function standIns(payload: string) {
  const dir = tempDir("hs-driver-");
  const bin = path.join(dir, "bin");
  const log = path.join(dir, "calls.log");
  fs.mkdirSync(bin);
  const record = (name: string, extra = "") =>
    fs.writeFileSync(
      path.join(bin, name),
      `#!/bin/sh\necho "${name} $*" | sed "s#[^ ]*/tmp\\.[A-Za-z0-9]*#TMP#" >> ${log}\n${extra}\n`,
      { mode: 0o755 },
    );
  record("apt-get");
  record("systemctl");
  record("curl", `printf '%s' '${payload}' > "$3"`);
  fs.writeFileSync(path.join(bin, "uname"), `#!/bin/sh\necho ${KERNEL}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(bin, "nvidia-smi"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  fs.writeFileSync(
    path.join(bin, "sh"),
    `#!/bin/bash\ncase "$1" in */nvidia-guest-driver.run) echo "RAN $1" | sed "s#[^ ` +
      `]*/tmp\\.[A-Za-z0-9]*#TMP#" >> ${log}; exit 0 ;; esac\nexec /bin/sh "$@"\n`,
    { mode: 0o755 },
  );
  const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin`, HYPERSCALER_STATE_DIR: path.join(dir, "state") };
  const calls = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);
  return { dir, env, calls };
}

describe("guest GPU driver (issue 15 bug 3, issue 17 checksum)", () => {
  it("bug 3: the datacenter driver installs the headers of the running kernel, not linux-headers-cloud-amd64", () => {
    const { spec, plan } = load("config/examples/rtx4090-passthrough.yaml");
    const vm = plan.vms.find((v) => v.gpus.some((g) => g.kind === "passthrough"))!;
    const runcmd = gpuDriverLayer(spec, plan, vm).runcmd as string[][];
    const install = runcmd.find((c) => c.join(" ").includes("nvidia-driver"))!;
    expect(install.join(" ")).not.toContain("linux-headers-cloud-amd64");
    // Run the rendered command as cloud-init would (a shell), with a stand-in apt-get and uname.
    const tools = standIns("");
    const run = spawnSync(install[0], install.slice(1), { env: tools.env, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(tools.calls()).toEqual([
      `apt-get install -y linux-headers-${KERNEL} nvidia-driver firmware-misc-nonfree nvidia-smi`,
    ]);
  });

  it("bug 3: the vGPU driver script asks for the running kernel's headers", () => {
    const script = vgpuDriverScript("https://mirror.example/grid.run", createHash("sha256").update("x").digest("hex"));
    expect(script).not.toContain("linux-headers-cloud-amd64");
    expect(script).toContain('apt-get install -y "linux-headers-$(uname -r)" build-essential curl');
  });

  it("a download whose SHA-256 differs from the spec's is never run, and the script fails", () => {
    const tools = standIns("tampered driver");
    const script = path.join(tools.dir, "driver.sh");
    fs.writeFileSync(
      script,
      vgpuDriverScript(
        "https://mirror.example/NVIDIA-grid.run",
        createHash("sha256").update("genuine driver").digest("hex"),
      ),
    );
    const run = spawnSync("/bin/sh", [script], { env: tools.env, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("does not have the SHA-256 in cluster.yaml");
    expect(tools.calls().some((c) => c.startsWith("RAN"))).toBe(false);
    expect(fs.existsSync(path.join(tools.dir, "state"))).toBe(false);
  });

  it("a download with the spec's SHA-256 is run", () => {
    const tools = standIns("genuine driver");
    const script = path.join(tools.dir, "driver.sh");
    fs.writeFileSync(
      script,
      vgpuDriverScript(
        "https://mirror.example/NVIDIA-grid.run",
        createHash("sha256").update("genuine driver").digest("hex"),
      ),
    );
    const run = spawnSync("/bin/sh", [script], { env: tools.env, encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(tools.calls()).toContain("RAN TMP/nvidia-guest-driver.run");
  });

  it("the spec refuses a driver URL without a checksum, and a malformed checksum, with positions", () => {
    const file = "config/examples/l40s-vgpu.yaml";
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    const withUrl = text.replace(
      /^(\s+)vgpu_shares:/m,
      '$1vgpu_guest_driver_url: "https://mirror.example/grid.run"\n$1vgpu_shares:',
    );
    expect(withUrl).not.toBe(text);
    const missing = loadSpecText(file, withUrl);
    expect(missing.ok).toBe(false);
    if (missing.ok) return;
    const error = missing.errors.find((e) => e.path === "/global/gpu_allocation/vgpu_guest_driver_url")!;
    expect(error.message).toContain("no vgpu_guest_driver_sha256");
    expect(error.line).toBeGreaterThan(0);
    expect(error.hint).toContain("sha256sum");
    const malformed = loadSpecText(
      file,
      withUrl.replace(/^(\s+)vgpu_shares:/m, "$1vgpu_guest_driver_sha256: abc123\n$1vgpu_shares:"),
    );
    expect(malformed.ok).toBe(false);
    if (malformed.ok) return;
    expect(malformed.errors.map((e) => e.path)).toContain("/global/gpu_allocation/vgpu_guest_driver_sha256");
    const good = loadSpecText(
      file,
      withUrl.replace(/^(\s+)vgpu_shares:/m, `$1vgpu_guest_driver_sha256: ${"a".repeat(64)}\n$1vgpu_shares:`),
    );
    expect(good.ok).toBe(true);
  });
});
