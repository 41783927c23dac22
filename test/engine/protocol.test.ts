// What the SDK's provider host carries between the engine and our providers, and what it drops: tested so
// our providers never rely on a field that does not reach the engine.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as Gpu from "../../src/providers/gpu";
import type * as Libvirt from "../../src/providers/libvirt";
import { requireBuilt } from "./built-package";
import { EngineResource } from "./engine-resource";
import { ProviderHost, serializeProvider, UNKNOWN } from "./provider-host";

/** The DiffResponse fields the host fills from a dynamic provider's diff result (cmd/dynamic-provider diffRPC). */
const FORWARDED = ["changes", "replaces", "deleteBeforeReplace"];

describe("provider host protocol", () => {
  let host: ProviderHost;
  let lib: typeof Libvirt;
  let gpu: typeof Gpu;

  beforeAll(async () => {
    lib = requireBuilt<typeof Libvirt>("src/providers/libvirt/index.js");
    gpu = requireBuilt<typeof Gpu>("src/providers/gpu.js");
    host = await ProviderHost.start();
    await host.configure();
  });
  afterAll(async () => host?.stop());

  it(
    "the host drops stables and detailedDiff: no provider's " + "diff returns a field the engine never sees (bug 1)",
    async () => {
      const facts = { memoryMiB: 1024, vcpus: 1, disks: ["p/a"], hostdevs: [], interfaces: [] };
      const cases: [string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>][] = [
        [
          "pool",
          lib.makePoolProvider() as never,
          { uri: "u", name: "p", xml: "x", path: "/a" },
          { uri: "u", name: "p", xml: "x", path: "/b" },
        ],
        [
          "network",
          lib.makeNetworkProvider() as never,
          { uri: "u", name: "n", xml: "x", bridge: "b", ip: "i", dhcpHosts: [], start: false },
          { uri: "u", name: "n", xml: "y", bridge: "b", ip: "i", dhcpHosts: ["h"], start: false },
        ],
        [
          "volume",
          lib.makeVolumeProvider() as never,
          { uri: "u", pool: "p", name: "v", xml: "x", capacityGiB: 1, backingPath: "/b" },
          { uri: "u", pool: "p", name: "v", xml: "x", capacityGiB: 2, backingPath: "/b" },
        ],
        [
          "base image",
          lib.makeBaseImageProvider() as never,
          { uri: "u", pool: "p", name: "b", source: "/s", checksum: "sha256:0", checksumUrl: "", format: "qcow2" },
          { uri: "u", pool: "p", name: "b", source: "/t", checksum: "sha256:0", checksumUrl: "", format: "qcow2" },
        ],
        [
          "seed ISO",
          lib.makeSeedIsoProvider() as never,
          { uri: "u", pool: "p", name: "s", contentSha256: "0" },
          { uri: "u", pool: "p", name: "s", files: { a: "b" } },
        ],
        [
          "domain",
          lib.makeDomainProvider() as never,
          { uri: "u", name: "d", xml: "x", facts, start: false, ...facts },
          { uri: "u", name: "d", xml: "y", facts: { ...facts, memoryMiB: 2048 }, start: false },
        ],
        [
          "MIG layout",
          gpu.makeMigLayoutProvider() as never,
          { gpu: "g", pciAddress: "a", migEnabled: true, instances: [], force: false },
          { gpu: "g", pciAddress: "a", migEnabled: true, instances: [], force: true },
        ],
        [
          "vGPU device",
          gpu.makeVgpuDeviceProvider() as never,
          { uuid: "u", gpu: "g", parentPciAddress: "a", vgpuType: "t", path: "mdev", sysRoot: "/" },
          { uuid: "u", gpu: "g", parentPciAddress: "a", vgpuType: "s", path: "mdev", sysRoot: "/" },
        ],
      ];
      for (const [kind, provider, olds, news] of cases) {
        const result = await (
          provider.diff as (id: string, o: unknown, n: unknown) => Promise<Record<string, unknown>>
        )("id", olds, news);
        expect(
          Object.keys(result).filter((key) => !FORWARDED.includes(key)),
          `${kind}: diff fields the host drops`,
        ).toEqual([]);
        // And what it returns arrives: replaces and deleteBeforeReplace as the provider said.
        const resource = new EngineResource(
          host,
          kind.replace(/ /g, ""),
          "protocol",
          await serializeProvider(provider as never),
        );
        resource.id = "id";
        resource.outputs = olds;
        const step = await resource.preview(news);
        expect(step.diff!.replaces, kind).toEqual(result.replaces ?? []);
        expect(step.diff!.deleteBeforeReplace, kind).toBe(Boolean(result.deleteBeforeReplace));
      }
    },
  );

  it("an undefined in a provider's outputs fails Create at the host; our outputs are Struct-safe (bug 2)", async () => {
    const leaky = new EngineResource(
      host,
      "Leaky",
      "leaky",
      await serializeProvider({
        create(inputs: Record<string, unknown>) {
          return Promise.resolve({ id: "x", outs: { ...inputs, missing: undefined } });
        },
      }),
    );
    await expect(leaky.up({ a: 1 })).rejects.toThrow(/Unexpected struct type/);
    expect(lib.structSafe({ a: undefined, b: [undefined, { c: undefined }], d: 1 })).toEqual({
      a: null,
      b: [null, { c: null }],
      d: 1,
    });
  });

  it("unknown inputs during preview reach the provider as the engine's sentinel", async () => {
    const echo = new EngineResource(
      host,
      "Echo",
      "echo",
      await serializeProvider({
        create(inputs: Record<string, unknown>) {
          return Promise.resolve({ id: "x", outs: inputs });
        },
        diff(_id: string, _olds: unknown, news: Record<string, unknown>) {
          return Promise.resolve({
            changes: true,
            replaces: news.value === "04da6b54-80e4-46f7-96ec-b56ff0331ba9" ? ["value"] : [],
          });
        },
      }),
    );
    await echo.up({ value: "known" });
    expect((await echo.preview({ value: UNKNOWN })).diff!.replaces).toEqual(["value"]);
  });
});
