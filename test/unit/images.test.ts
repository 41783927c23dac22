// Golden images: layered definitions, the apt sources a build uses, the version digest of the inputs,
// the store (list, newest/pinned lookup, pruning, checksum verification), the `image` CLI, and what
// golden images change in cloud-init (no packages at first boot).
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main";
import { buildInputs, inputsVersion } from "../../src/images/build";
import { availableImages, ImageDefinitionError, resolveImage } from "../../src/facts/golden-images";
import { buildSources, hostDebianSources } from "../../src/images/mirror";
import { findImage, listImages, pruneVersions, verifyImage, type ImageManifest } from "../../src/images/store";
import { buildPlan } from "../../src/plan";
import { seedFiles } from "../../src/render/cloud-init/nocloud";
import { slurmLayer } from "../../src/render/cloud-init/slurm";
import { MissingImageError, roleImage } from "../../src/render/images";
import { loadSpecFile, loadSpecText } from "../../src/spec/load";
import { captureIO, joinedPattern, ROOT, tempDir } from "../helpers";

const dirs: string[] = [];
const scratch = (prefix: string): string => {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

describe("image definitions", () => {
  it("base, hpc and k8s exist; hpc is base + munge and the Slurm daemons", () => {
    expect(availableImages()).toEqual(expect.arrayContaining(["base", "hpc", "k8s"]));
    const hpc = resolveImage("hpc");
    expect(hpc.layers).toEqual(["base", "hpc"]);
    for (const p of [
      "linux-image-cloud-amd64",
      "cloud-init",
      "openssh-server",
      "qemu-guest-agent",
      "chrony",
      "munge",
      "slurmd",
      "slurmctld",
      "slurm-client",
    ])
      expect(hpc.packages).toContain(p);
    const k8s = resolveImage("k8s");
    expect(k8s.packages).toEqual(expect.arrayContaining(["containerd", "runc"]));
    expect(k8s.optionalRepositories[0].packages).toEqual(["kubelet", "kubeadm", "kubectl"]);
  });

  it("an unknown image and a bad definition say which file, which field and what is expected", () => {
    expect(() => resolveImage("nope")).toThrow(
      /no golden image named "nope": .*nope\.yaml does not exist \(defined: base, hpc, k8s/,
    );
    const dir = scratch("hs-defs-");
    fs.writeFileSync(path.join(dir, "a.yaml"), "name: a\ndescription: x\npackages: [Bad_Name]\n");
    expect(() => resolveImage("a", dir)).toThrow(ImageDefinitionError);
    expect(() => resolveImage("a", dir)).toThrow(
      /a\.yaml: packages is \["Bad_Name"\]; expected a list of Debian package names/,
    );
    fs.writeFileSync(path.join(dir, "b.yaml"), "name: b\nparent: c\ndescription: x\npackages: []\n");
    fs.writeFileSync(path.join(dir, "c.yaml"), "name: c\nparent: b\ndescription: x\npackages: []\n");
    expect(() => resolveImage("b", dir)).toThrow(/cycle \(b -> c -> b\)/);
  });
});

describe("apt sources", () => {
  it("reads the host's deb822 and one-line sources for the suite, main only", () => {
    const root = scratch("hs-apt-");
    fs.mkdirSync(path.join(root, "sources.list.d"));
    fs.writeFileSync(
      path.join(root, "sources.list.d", "debian.sources"),
      "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main " +
        "contrib\n\nTypes: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n" +
        "Components: main\n",
    );
    fs.writeFileSync(path.join(root, "sources.list.d", "other.list"), "deb https://packages.example/apt stable main\n");
    expect(hostDebianSources("bookworm", root).map((s) => `${s.uri} ${s.suite} ${s.components.join(",")}`)).toEqual([
      "http://mirror.example/debian bookworm main",
      "http://mirror.example/debian bookworm-updates main",
      "http://security.example/debian-security bookworm-security main",
    ]);
    expect(buildSources("bookworm", "http://local/debian/", root)).toEqual([
      { uri: "http://local/debian", suite: "bookworm", components: ["main"] },
    ]);
    expect(() => buildSources("trixie", undefined, root)).toThrow(/list no Debian trixie mirror .*pass --mirror URL/);
  });

  it(
    "the version is a digest of the inputs: same inputs, same version; a mirror or a reachable repository " +
      "changes it",
    async () => {
      const root = scratch("hs-apt-");
      fs.writeFileSync(path.join(root, "sources.list"), "deb http://mirror.example/debian bookworm main\n");
      const unreachable = () => Promise.resolve(false);
      const a = inputsVersion(await buildInputs({ name: "hpc", aptRoot: root, reachable: unreachable }));
      expect(inputsVersion(await buildInputs({ name: "hpc", aptRoot: root, reachable: unreachable }))).toBe(a);
      expect(a).toMatch(/^[0-9a-f]{16}$/);
      expect(
        inputsVersion(
          await buildInputs({ name: "hpc", aptRoot: root, mirror: "http://local/debian", reachable: unreachable }),
        ),
      ).not.toBe(a);
      expect(inputsVersion(await buildInputs({ name: "base", aptRoot: root, reachable: unreachable }))).not.toBe(a);
      const k8s = async (reachable: boolean) =>
        inputsVersion(await buildInputs({ name: "k8s", aptRoot: root, reachable: () => Promise.resolve(reachable) }));
      expect(await k8s(true)).not.toBe(await k8s(false));
    },
  );
});

function storeVersion(dir: string, name: string, version: string, builtAt: string): string {
  const vdir = path.join(dir, name, version);
  fs.mkdirSync(vdir, { recursive: true });
  const files: Record<string, { sha256: string; bytes: number }> = {};
  for (const [file, content] of [
    ["disk.qcow2", `disk ${version}`],
    ["vmlinuz", "kernel"],
    ["initrd.img", "initrd"],
  ]) {
    fs.writeFileSync(path.join(vdir, file), content);
    files[file] = { sha256: crypto.createHash("sha256").update(content).digest("hex"), bytes: content.length };
  }
  const manifest: ImageManifest = {
    name,
    version,
    description: "test",
    layers: ["base", name],
    suite: "bookworm",
    sources: [],
    builtAt,
    buildSeconds: 1,
    kernelVersion: "6.1.0-test",
    packages: { "cloud-init": "22.4", slurmd: "22.05.8" },
    omitted: [],
    files,
    boot: { kernel: "vmlinuz", initrd: "initrd.img", cmdline: "root=/dev/vda" },
    disk: "disk.qcow2",
    rootfsBytes: 10,
  };
  fs.writeFileSync(path.join(vdir, "manifest.json"), JSON.stringify(manifest));
  return vdir;
}

describe("image store", () => {
  it(
    "lists versions newest first, finds name (newest) and " + "name@version (pinned), prunes all but the kept count",
    () => {
      const dir = scratch("hs-store-");
      storeVersion(dir, "hpc", "1111111111111111", "2026-01-01T00:00:00Z");
      storeVersion(dir, "hpc", "2222222222222222", "2026-01-02T00:00:00Z");
      storeVersion(dir, "hpc", "3333333333333333", "2026-01-03T00:00:00Z");
      fs.mkdirSync(path.join(dir, "hpc", "4444444444444444.partial-1"), { recursive: true });
      expect(listImages(dir).map((i) => i.manifest.version)).toEqual([
        "3333333333333333",
        "2222222222222222",
        "1111111111111111",
      ]);
      expect(findImage(dir, "hpc")!.manifest.version).toBe("3333333333333333");
      expect(findImage(dir, "hpc@1111111111111111")!.manifest.version).toBe("1111111111111111");
      expect(findImage(dir, "hpc@9999999999999999")).toBeNull();
      expect(pruneVersions(dir, "hpc", 2, "3333333333333333")).toEqual(["1111111111111111"]);
      expect(listImages(dir).map((i) => i.manifest.version)).toEqual(["3333333333333333", "2222222222222222"]);
      // The current version survives even when it is the oldest.
      expect(pruneVersions(dir, "hpc", 1, "2222222222222222")).toEqual(["3333333333333333"]);
    },
  );

  it("verify recomputes every file's sha256 and names the one that changed", async () => {
    const dir = scratch("hs-store-");
    const vdir = storeVersion(dir, "hpc", "1111111111111111", "2026-01-01T00:00:00Z");
    expect(await verifyImage(findImage(dir, "hpc")!)).toMatchObject({ ok: true, problems: [] });
    fs.appendFileSync(path.join(vdir, "vmlinuz"), "tampered");
    const result = await verifyImage(findImage(dir, "hpc")!);
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/^vmlinuz: sha256 [0-9a-f]{64}, manifest says [0-9a-f]{64}$/),
    ]);
  });

  it("image list --json and image verify through the CLI", async () => {
    const dir = scratch("hs-store-");
    storeVersion(dir, "hpc", "1111111111111111", "2026-01-01T00:00:00Z");
    const io = captureIO();
    expect(await main(["image", "list", "--json", "--dir", dir], io)).toBe(0);
    const listed = JSON.parse(io.stdout.join("")) as {
      images: { name: string; version: string; path: string; sha256: string; packages: Record<string, string> }[];
    };
    expect(listed.images).toEqual([
      expect.objectContaining({
        name: "hpc",
        version: "1111111111111111",
        path: path.join(dir, "hpc", "1111111111111111", "disk.qcow2"),
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        packages: { "cloud-init": "22.4", slurmd: "22.05.8" },
      }),
    ]);
    const verify = captureIO();
    expect(await main(["image", "verify", "hpc", "--dir", dir], verify)).toBe(0);
    expect(verify.stdout.join("")).toMatch(/^ok +hpc@1111111111111111/);
    const missing = captureIO();
    expect(await main(["image", "verify", "k8s", "--dir", dir], missing)).toBe(2);
    expect(missing.stderr.join("")).toMatch(/image k8s: not in .* \(see hyperscaler image list\)/);
    const badKeep = captureIO();
    expect(await main(["image", "build", "hpc", "--keep", "0", "--dir", dir], badKeep)).toBe(2);
    expect(badKeep.stderr.join("")).toMatch(/--keep 0: expected a whole number of versions, at least 1/);
  });
});

describe("golden images in the stack", () => {
  const loaded = loadSpecFile(path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml"));
  if (!loaded.ok) throw new Error("e2e spec invalid");
  const spec = loaded.spec;
  const plan = buildPlan({ spec });

  it("a role on a golden image installs nothing at first boot; on the catalog image it installs its packages", () => {
    for (const vm of plan.vms) {
      const userData = parse(seedFiles(spec, plan, vm, [slurmLayer(spec, plan, vm, "a2V5")])["user-data"]) as Record<
        string,
        unknown
      >;
      expect(userData.packages, vm.name).toBeUndefined();
      expect(userData.package_update, vm.name).toBeUndefined();
      expect(userData.locale).toBe("C.UTF-8");
    }
    const catalogSpec = {
      ...spec,
      images: { ...spec.images, roles: { ...spec.images.roles, "slurm-compute": "catalog" } },
    };
    const node = plan.vms.find((vm) => vm.role === "slurm-compute")!;
    const userData = parse(
      seedFiles(catalogSpec, plan, node, [slurmLayer(catalogSpec, plan, node, "a2V5")])["user-data"],
    ) as Record<string, unknown>;
    expect(userData.packages).toEqual(
      expect.arrayContaining(["qemu-guest-agent", "chrony", "munge", "slurmd", "slurm-client"]),
    );
  });

  it("roles default to the golden hpc/k8s images; a missing one names the build command", () => {
    // The e2e spec without its images and host sections: every default applies.
    const text = fs
      .readFileSync(path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml"), "utf8")
      .replace(/^images:[\s\S]*$/m, "");
    const result = loadSpecText("cluster.yaml", text + `images: { golden_dir: ${scratch("hs-empty-store-")} }\n`);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect(result.spec.images.roles["slurm-compute"]).toBe("hpc");
    expect(result.spec.images.roles["k8s-cpu-worker"]).toBe("k8s");
    expect(result.spec.host.virtualization).toBe("kvm");
    expect(() => roleImage(result.spec, "slurm-compute")).toThrow(MissingImageError);
    expect(() => roleImage(result.spec, "slurm-compute")).toThrow(
      joinedPattern(
        /images\.roles\.slurm-compute is hpc, but the golden image store .* holds no such image; /,
        /build it with `hyperscaler image build hpc --dir /,
      ),
    );
    const bad = loadSpecText("cluster.yaml", text + 'images: { roles: { slurm-compute: "hpc@latest" } }\n');
    expect(bad.ok).toBe(false);
  });

  it("a role naming an image images/golden does not define is an error at its line, listing the defined ones", () => {
    const text = fs
      .readFileSync(path.join(ROOT, "config/examples/e2e-cpu-emulated.yaml"), "utf8")
      .replace(/^ {2}roles: .*$/m, "  roles: { slurm-compute: hcp }");
    const result = loadSpecText("cluster.yaml", text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const error = result.errors.find((e) => e.path === "/images/roles/slurm-compute")!;
    expect(error.message).toMatch(/names golden image "hcp", which images\/golden does not define/);
    expect(error.line).toBe(text.split("\n").findIndex((l) => l.includes("slurm-compute: hcp")) + 1);
    expect(error.hint).toMatch(/base, hpc, k8s/);
  });

  it("emulated hosts with GPU devices get a warning", () => {
    const loaded = loadSpecFile(path.join(ROOT, "config/dev.yaml"));
    if (!loaded.ok) throw new Error("dev.yaml invalid");
    const text = fs.readFileSync(path.join(ROOT, "config/dev.yaml"), "utf8");
    const emulated = loadSpecText(
      "dev.yaml",
      /^host:/m.test(text)
        ? text.replace(/^host:\n/m, "host:\n  virtualization: emulated\n")
        : `${text}\nhost:\n  virtualization: emulated\n`,
    );
    expect(emulated.ok).toBe(true);
    if (!emulated.ok) return;
    expect(emulated.warnings.map((w) => w.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/virtualization is emulated but gpu_allocation lists GPUs/)]),
    );
  });
});
