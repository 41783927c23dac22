// Pulumi mock runtime for program tests: records every registered resource with its inputs, gives
// dynamic resources the outputs their providers would, and refuses any unexpected invoke (strict).
import * as pulumi from "@pulumi/pulumi";
import {
  domainOutputs,
  networkOutputs,
  seedDigest,
  type DomainInputs,
  type NetworkInputs,
} from "../src/providers/libvirt";
import { poolVolumePath } from "../src/render/images";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { unknown: unknownOutput, isUnknown } = require("@pulumi/pulumi/output") as {
  unknown: unknown;
  isUnknown: (v: unknown) => boolean;
};

export interface Recorded {
  readonly type: string;
  /** The provider reference the program gave (URN::id), for custom resources. */
  readonly provider?: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly id: string;
  /** Names of the resources this one depends on, as sent to the engine. */
  readonly dependsOn: string[];
  readonly parent: string | null;
}

export const recorded: Recorded[] = [];

const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;
/** Dependencies the program sent with each registration (the mock hook does not pass them on). */
const requests = new Map<
  string,
  { dependsOn: string[]; parent: string | null; propertyDependencies: Record<string, string[]> }
>();

/** What the program sent when it registered a resource: dependencies, parent, and per-property dependencies. */
export function lastRequest(
  name: string,
): { dependsOn: string[]; parent: string | null; propertyDependencies: Record<string, string[]> } | undefined {
  return requests.get(name);
}

type PropertyDependencies = { toArray(): [string, [string[]]][] };
type RegisterRequest = {
  getName(): string;
  getDependenciesList(): string[];
  getParent(): string;
  getPropertydependenciesMap(): PropertyDependencies;
};
type RegisterResource = (this: unknown, req: RegisterRequest, callback: unknown) => Promise<void>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as {
  MockMonitor: { prototype: { registerResource: RegisterResource } };
};
const register = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req, callback) {
  const propertyDependencies = Object.fromEntries(
    req
      .getPropertydependenciesMap()
      .toArray()
      .map(([property, [urns]]) => [property, (urns ?? []).map(nameOf)]),
  );
  requests.set(req.getName(), {
    dependsOn: req.getDependenciesList().map(nameOf),
    parent: req.getParent() ? nameOf(req.getParent()) : null,
    propertyDependencies,
  });
  return register.call(this, req, callback);
};

/** Waits until every registration the program started has completed. */
export async function settled(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  await (require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** A secret input arrives wrapped ({ [sig]: secret signature, value }); providers see the value. */
function plain(value: unknown): string {
  return typeof value === "object" && value !== null && "value" in value ? String(value.value) : String(value);
}

/** Real PEMs, as the tls provider would make them: keys from node's crypto, certificates from openssl. */
const pki = {
  key(): { privateKeyPem: string; publicKeyPem: string } {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { generateKeyPairSync } = require("node:crypto") as typeof import("node:crypto");
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    return {
      privateKeyPem: privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
    };
  },
  /**
   * An ed25519 key as the tls provider gives it, in OpenSSH's own formats, encoded here from node's
   * crypto (spawning ssh-keygen per VM would dominate the program benchmark). Tests check these keys
   * with the real ssh-keygen and sshd.
   */
  ed25519(): { privateKeyOpenssh: string; publicKeyOpenssh: string; privateKeyPem: string; publicKeyPem: string } {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const crypto = require("node:crypto") as typeof import("node:crypto");
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
    const jwk = privateKey.export({ format: "jwk" });
    const pub = Buffer.from(jwk.x!, "base64url");
    const seed = Buffer.from(jwk.d!, "base64url");
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return b;
    };
    const str = (b: Buffer | string) => {
      const buf = Buffer.from(b);
      return Buffer.concat([u32(buf.length), buf]);
    };
    const blob = Buffer.concat([str("ssh-ed25519"), str(pub)]);
    const check = crypto.randomBytes(4);
    let secret = Buffer.concat([check, check, blob, str(Buffer.concat([seed, pub])), str("")]);
    const padding = (8 - (secret.length % 8)) % 8;
    secret = Buffer.concat([secret, Buffer.from(Array.from({ length: padding }, (_, i) => i + 1))]);
    const body = Buffer.concat([
      Buffer.from("openssh-key-v1\0"),
      str("none"),
      str("none"),
      str(""),
      u32(1),
      str(blob),
      str(secret),
    ]);
    const lines = body.toString("base64").match(/.{1,70}/g)!;
    return {
      privateKeyOpenssh:
        `-----BEGIN OPENSSH PRIVATE KEY-----\n` + `${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
      publicKeyOpenssh: `ssh-ed25519 ${blob.toString("base64")}\n`,
      privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) as string,
    };
  },
  openssl(args: string[], files: Record<string, string>): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("node:fs") as typeof import("node:fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("node:path") as typeof import("node:path");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const os = require("node:os") as typeof import("node:os");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hs-pki-"));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    const result = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    if (result.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  },
  subject(subject: unknown): string {
    const s = (subject ?? {}) as { commonName?: string; organization?: string };
    return `/CN=${s.commonName ?? "unnamed"}${s.organization ? `/O=${s.organization}` : ""}`;
  },
};

function randomString(length: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bytes = (require("node:crypto") as typeof import("node:crypto")).randomBytes(length);
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** Pools by name -> target path, so volumes report the path libvirt gives them (`vol-path`: pool path/name). */
const poolPaths = new Map<string, string>();
const volumePath = (inputs: Record<string, unknown>): string =>
  poolVolumePath(poolPaths.get(String(inputs.pool)) ?? "/pool", String(inputs.name));

/** Outputs a real provider would add, keyed by resource type (the providers' own code where it runs without a host). */
export function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "pulumi-nodejs:dynamic/hyperscaler:LibvirtPool":
      poolPaths.set(String(inputs.name), String(inputs.path));
      return { path: inputs.path, adopted: false };
    case "pulumi-nodejs:dynamic/hyperscaler:BaseImageVolume":
      return { path: volumePath(inputs), verified: "sha512:mock" };
    case "pulumi-nodejs:dynamic/hyperscaler:LibvirtVolume":
      return { path: volumePath(inputs) };
    case "pulumi-nodejs:dynamic/hyperscaler:LibvirtNetwork":
      return typeof inputs.xml === "string"
        ? { xmlSha256: (networkOutputs(inputs as unknown as NetworkInputs) as { xmlSha256: string }).xmlSha256 }
        : {};
    case "pulumi-nodejs:dynamic/hyperscaler:SeedIso": {
      const files = (inputs.files as { value?: unknown })?.value ?? inputs.files;
      return {
        contentSha256:
          files && typeof files === "object" && !isUnknown(files)
            ? seedDigest(files as Record<string, string>)
            : unknownOutput,
        path: volumePath(inputs),
      };
    }
    case "pulumi-nodejs:dynamic/hyperscaler:VgpuDevice":
      return {
        vfAddress: inputs.path === "sriov" ? `0000:${String((name.length % 90) + 10)}:00.4` : null,
        mdevParent: inputs.path === "mdev" ? inputs.parentPciAddress : null,
      };
    case "pulumi-nodejs:dynamic/hyperscaler:LibvirtDomain": {
      // What libvirt reports right after the provider's create: the facts it defined, running if started.
      const domain = inputs as unknown as DomainInputs;
      if (!domain.facts || isUnknown(domain.facts)) return { restartRequired: unknownOutput };
      const { facts } = domain;
      const state = {
        ...facts,
        disks: [...facts.disks],
        hostdevs: [...facts.hostdevs],
        interfaces: [...facts.interfaces],
        liveMemoryMiB: domain.start ? facts.memoryMiB : null,
        liveVcpus: domain.start ? facts.vcpus : null,
        running: domain.start,
        bootId: domain.start ? 1 : null,
        seedInserted: domain.start,
      };
      const {
        uri: _u,
        name: _n,
        xml: _x,
        facts: _f,
        start: _s,
        seedSha256: _d,
        networks: _w,
        disk: _k,
        devices: _v,
        ...outputs
      } = domainOutputs(
        domain,
        state,
        domain.start && !isUnknown(domain.seedSha256) ? (domain.seedSha256 ?? null) : null,
      );
      return outputs;
    }
    case "tls:index/privateKey:PrivateKey":
      return inputs.algorithm === "ED25519" ? pki.ed25519() : pki.key();
    case "tls:index/selfSignedCert:SelfSignedCert":
      return {
        certPem: pki.openssl(
          ["req", "-x509", "-new", "-key", "key.pem", "-subj", pki.subject(inputs.subject), "-days", "3650"],
          { "key.pem": plain(inputs.privateKeyPem) },
        ),
      };
    case "tls:index/certRequest:CertRequest":
      return {
        certRequestPem: pki.openssl(["req", "-new", "-key", "key.pem", "-subj", pki.subject(inputs.subject)], {
          "key.pem": plain(inputs.privateKeyPem),
        }),
      };
    case "tls:index/locallySignedCert:LocallySignedCert":
      return {
        certPem: pki.openssl(
          ["x509", "-req", "-in", "csr.pem", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "365"],
          {
            "csr.pem": plain(inputs.certRequestPem),
            "ca.pem": plain(inputs.caCertPem),
            "ca.key": plain(inputs.caPrivateKeyPem),
          },
        ),
      };
    case "random:index/randomPassword:RandomPassword":
      return { result: randomString(Number(inputs.length)), bcryptHash: "mock" };
    case "random:index/randomUuid:RandomUuid":
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return { result: (require("node:crypto") as typeof import("node:crypto")).randomUUID() };
    case "random:index/randomString:RandomString":
      return { result: randomString(Number(inputs.length)) };
    case "random:index/randomBytes:RandomBytes": {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bytes = (require("node:crypto") as typeof import("node:crypto")).randomBytes(Number(inputs.length));
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    case "pulumi-nodejs:dynamic/hyperscaler:MigLayout":
      return { liveInstances: inputs.instances };
    default:
      return {};
  }
}

export async function installMocks(): Promise<void> {
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const id = `${args.name}-id`;
        const request = requests.get(args.name);
        recorded.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          id,
          provider: args.provider,
          dependsOn: request?.dependsOn ?? [],
          parent: request?.parent ?? null,
        });
        return { id, state: { ...args.inputs, ...computed(args.type, args.name, args.inputs) } };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        throw new Error(`unexpected invoke ${args.token} in a program test: add it to the mocks deliberately`);
      },
    },
    "hyperscaler",
    "test",
    false,
  );
}

export function resetRecorded(): void {
  recorded.length = 0;
  requests.clear();
}
