// Values that used to be accepted without a word (issue 17) are refused at file:line:column with the
// value found, the value expected and the fix: image and pool paths confined, no control characters in
// values that reach configuration files, only supported Kubernetes versions, and clear messages for an
// undefined alias, .inf/.nan and a cluster key without a value.
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSpecText } from "../../src/spec/load";
import { imageFileProblem, resolveExisting, unnormalized } from "../../src/spec/rules/paths";
import { fixture, joinedPattern, lineOf, ROOT, tempDir } from "../helpers";

const BASE = fixture("user-example.yaml");
const TAIL = 'storage_class: "local-path" }';
const dir = tempDir("hs-values-");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A file holding a real (tiny) qcow2 image header, and a raw image of one sector. */
const qcow2 = path.join(dir, "base.qcow2");
fs.writeFileSync(qcow2, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]), Buffer.alloc(504)]));
const raw = path.join(dir, "base.raw");
fs.writeFileSync(raw, Buffer.alloc(512));
const etcLink = path.join(dir, "etc-link");
fs.symlinkSync("/etc", etcLink);

interface Case {
  readonly name: string;
  readonly text: string;
  readonly pointer: string;
  readonly marker: string;
  readonly message: RegExp;
  readonly hint?: RegExp;
}

const append = (yaml: string): string => BASE.replace(TAIL, `${TAIL}\n${yaml}`);
const gpuAllocation = (yaml: string): string =>
  BASE.replace("whole_gpus: { hpc: 0, cloud: 1 }", `whole_gpus: { hpc: 0, cloud: 1 }\n    ${yaml}`);

const CASES: Case[] = [
  // images.path
  {
    name: "image path missing",
    text: append(`images:\n  path: ${dir}/nope.qcow2`),
    pointer: "/images/path",
    marker: "nope.qcow2",
    message: /images\.path ".*nope\.qcow2" does not exist/,
    hint: /download the image first/,
  },
  {
    name: "image path /etc/shadow",
    text: append("images:\n  path: /etc/shadow"),
    pointer: "/images/path",
    marker: "/etc/shadow",
    message: /images\.path "\/etc\/shadow" is inside \/etc, where no disk image belongs/,
  },
  {
    name: "image path through a symlink into /etc",
    text: append(`images:\n  path: ${etcLink}/shadow`),
    pointer: "/images/path",
    marker: "etc-link/shadow",
    message: /is inside \/etc \(resolved: \/etc\/shadow\)/,
  },
  {
    name: "image path relative",
    text: append("images:\n  path: images/base.qcow2"),
    pointer: "/images/path",
    marker: "images/base.qcow2",
    message: /is not an absolute path/,
  },
  {
    name: "image path with ..",
    text: append(`images:\n  path: ${dir}/../x.qcow2`),
    pointer: "/images/path",
    marker: "x.qcow2",
    message: /is not allowed: it contains '\.' or '\.\.' segments/,
  },
  {
    name: "image path a directory",
    text: append(`images:\n  path: ${dir}`),
    pointer: "/images/path",
    marker: `path: ${dir}`,
    message: /is a directory/,
  },
  {
    name: "image path not an image",
    text: append(`images:\n  path: ${path.join(ROOT, "package.json")}`),
    pointer: "/images/path",
    marker: "package.json",
    message: /is not a disk image: neither qcow2/,
    hint: /qemu-img info/,
  },
  // host.storage_pool.path
  {
    name: "pool path with .. into /etc",
    text: append("host:\n  storage_pool: { path: /var/lib/libvirt/../../../etc/hs }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: joinedPattern(
      /storage pool path "\/var\/lib\/libvirt\/\.\.\/\.\.\/\.\.\/etc\/hs" is not allowed: /,
      /it contains '\.' or '\.\.' segments; it resolves to \/etc\/hs, inside the system directory \/etc/,
    ),
    hint: /use a directory of its own/,
  },
  {
    name: "pool path with .. elsewhere",
    text: append("host:\n  storage_pool: { path: /srv/a/../pool }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /is not allowed: it contains '\.' or '\.\.' segments$/,
    hint: /write it as "\/srv\/pool"/,
  },
  {
    name: "pool path in /etc",
    text: append("host:\n  storage_pool: { path: /etc/hyperscaler }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /is inside the system directory \/etc; libvirt writes and deletes files in the pool as root/,
  },
  {
    name: "pool path in /usr/lib",
    text: append("host:\n  storage_pool: { path: /usr/lib/pool }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /inside the system directory \/usr/,
  },
  {
    name: "pool path /lib64",
    text: append("host:\n  storage_pool: { path: /lib64 }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /inside the system directory \/lib64/,
  },
  {
    name: "pool path through a symlink into /etc",
    text: append(`host:\n  storage_pool: { path: ${etcLink}/pool }`),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /is inside the system directory \/etc \(it resolves through a symlink to \/etc\/pool\)/,
  },
  {
    name: "pool path is /",
    text: append("host:\n  storage_pool: { path: / }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /storage pool path "\/" is the root directory/,
  },
  {
    name: "pool path trailing slash",
    text: append("host:\n  storage_pool: { path: /srv/pool/ }"),
    pointer: "/host/storage_pool/path",
    marker: "storage_pool",
    message: /it ends with '\/'/,
  },
  // Control characters in values that reach configuration files.
  {
    name: "newline in vgpu_license_server (gridd.conf injection)",
    text: gpuAllocation('vgpu_license_server: "dls.local\\nFeatureType=0"'),
    pointer: "/global/gpu_allocation/vgpu_license_server",
    marker: "vgpu_license_server",
    message:
      /vgpu_license_server "dls\.local\\nFeatureType=0" is not a host name or IPv4 address, optionally with :port/,
  },
  {
    name: "newline in the vGPU driver URL (shell line injection)",
    text: gpuAllocation('vgpu_guest_driver_url: "https://mirror/driver.run\\nrm -rf /"'),
    pointer: "/global/gpu_allocation/vgpu_guest_driver_url",
    marker: "vgpu_guest_driver_url",
    message: joinedPattern(
      /vgpu_guest_driver_url contains a newline \(\\n\) at character 26; /,
      /values here are written into configuration files/,
    ),
  },
  {
    name: "carriage return in a partition name",
    text: BASE.replace('partitions: ["gpu", "debug"]', 'partitions: ["gpu", "debug\\r"]'),
    pointer: "/clusters/hpc/slurm_config/partitions/1",
    marker: "partitions",
    message: /carriage return|is not/,
  },
  {
    name: "escape sequence in the image path",
    text: append('images:\n  path: "/srv/\\e[31mimage.qcow2"'),
    pointer: "/images/path",
    marker: "image.qcow2",
    message: /path contains control character U\+001B at character 6/,
  },
  {
    name: "NUL in the description",
    text: BASE.replace('description: "', 'description: "a\\0'),
    pointer: "/metadata/description",
    marker: "description",
    message: /description contains a NUL byte/,
  },
  {
    name: "line separator in an ssh key",
    text: append(
      'security:\n  ssh_authorized_keys: ["ssh-ed25519 ' +
        'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\\u2028command=x"]',
    ),
    pointer: "/security/ssh_authorized_keys/0",
    marker: "ssh_authorized_keys",
    message: /is not an OpenSSH public key line/,
  },
  // Kubernetes versions.
  {
    name: "Kubernetes 1.99",
    text: BASE.replace(TAIL, 'storage_class: "local-path", version: "1.99" }'),
    pointer: "/clusters/cloud/kubernetes_config/version",
    marker: "1.99",
    message: /Kubernetes 1\.99 is not a version this project supports/,
    hint: /version: "1\.31"/,
  },
  {
    name: "Kubernetes 1.30 unquoted (a number)",
    text: BASE.replace(TAIL, 'storage_class: "local-path", version: 1.30 }'),
    pointer: "/clusters/cloud/kubernetes_config/version",
    marker: "version: 1.30",
    message: /version must be a string, found a number 1\.3/,
    hint: /quoted/,
  },
  // YAML corner cases.
  {
    name: "undefined alias",
    text: BASE.replace("controller:    { cpu_cores: 4,", "controller:    { cpu_cores: *cores,"),
    pointer: "",
    marker: "*cores",
    message: /undefined YAML alias \*cores: no anchor &cores is defined before it/,
    hint: /mark an earlier value with &cores/,
  },
  {
    name: ".inf in an integer field",
    text: BASE.replace("count: 4, cpu_cores: 8, memory_gb: 16", "count: 4, cpu_cores: 8, memory_gb: .inf"),
    pointer: "/clusters/hpc/compute_nodes/memory_gb",
    marker: ".inf",
    message: /memory_gb must be an integer, found \.inf \(YAML's infinity\)/,
    hint: /write a finite value/,
  },
  {
    name: ".nan in an integer field",
    text: BASE.replace("count: 4, cpu_cores: 8,", "count: .nan, cpu_cores: 8,"),
    pointer: "/clusters/hpc/compute_nodes/count",
    marker: ".nan",
    message: /count must be an integer, found \.nan \(YAML's not-a-number\)/,
  },
  {
    name: "a cluster without a value",
    text: 'version: "1.0"\nmetadata: { name: x }\nclusters:\n  hpc:\n  cloud:\n',
    pointer: "/clusters/hpc",
    marker: "hpc:",
    message: /hpc has no value \(an empty key is null\); it must be a mapping/,
    hint: /write the hpc settings indented under "hpc:", or remove the "hpc:" line/,
  },
  {
    name: "clusters without a value",
    text: 'version: "1.0"\nmetadata: { name: x }\nclusters:\n',
    pointer: "/clusters",
    marker: "clusters:",
    message: /clusters has no value/,
  },
];

describe("values refused with positioned errors", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, testCase) => {
    const result = loadSpecText("cluster.yaml", testCase.text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const match = result.errors.find((error) => testCase.message.test(error.message));
    expect(match, `errors were:\n${result.errors.map((e) => `${e.path} ${e.message}`).join("\n")}`).toBeDefined();
    expect(match!.path).toBe(testCase.pointer);
    expect(match!.line).toBe(lineOf(testCase.text, testCase.marker));
    expect(match!.column).toBeGreaterThan(0);
    if (testCase.hint) expect(match!.hint).toMatch(testCase.hint);
  });
});

describe("values still accepted", () => {
  const accepted: [string, string][] = [
    ["a qcow2 image path", append(`images:\n  path: ${qcow2}`)],
    ["a raw image path", append(`images:\n  path: ${raw}`)],
    ["a pool under /var/lib and one under /srv", append("host:\n  storage_pool: { path: /srv/libvirt/hs-pool }")],
    ["a multi-line description", BASE.replace('description: "', 'description: "line one\\nline two\\t')],
    ["a license server with a port", gpuAllocation('vgpu_license_server: "10.0.0.5:7070"')],
    ["Kubernetes 1.28", BASE.replace(TAIL, 'storage_class: "local-path", version: "1.28" }')],
  ];
  it.each(accepted)("%s", (_name, text) => {
    const result = loadSpecText("cluster.yaml", text);
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([]);
  });

  it("path helpers: normalization, symlink resolution, image detection", () => {
    expect(unnormalized("/var/lib/x")).toBeUndefined();
    expect(unnormalized("var/lib")).toBe("it is not absolute");
    expect(unnormalized("/var//lib")).toBe("it contains '//'");
    expect(resolveExisting(`${etcLink}/not/yet`)).toBe("/etc/not/yet");
    expect(imageFileProblem(qcow2)).toBeUndefined();
    expect(imageFileProblem("/dev/null")?.message).toBe("is not a regular file");
  });
});
