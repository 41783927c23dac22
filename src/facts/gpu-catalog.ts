// MIG profile catalog: data keyed by normalised model name and PCI device id, one source note per entry.
// Facts from NVIDIA's MIG user guide and real `nvidia-smi mig -lgip/-lgipp` captures
// (shared/reference/mig-geometry.md). Values that were not confirmed carry `confirmed: false`
// and a null id instead of a guess; a live inventory's profiles override the catalog for that GPU.

export type Architecture = "ampere" | "hopper" | "blackwell";

export interface Placement {
  readonly start: number;
  readonly size: number;
}

export interface MigProfile {
  /** GPU instance profile id for `nvidia-smi mig -cgi ID:START`; null when not confirmed. */
  readonly id: number | null;
  readonly name: string;
  readonly computeSlices: number;
  /** Memory-slice positions the instance occupies. */
  readonly memorySlices: number;
  readonly memoryGiB: number;
  /** Most instances of this profile one GPU can hold at once. */
  readonly maxCount: number;
  readonly starts: readonly number[];
  readonly mediaExtensions: boolean;
  /** False when the id, count or placements were derived from the shared geometry, not a capture. */
  readonly confirmed: boolean;
}

export interface GpuGeometry {
  /** Memory-slice positions (8 on 7-slice GPUs, 4 on the A30). */
  readonly positions: number;
  readonly computeSlices: number;
}

export interface CatalogEntry {
  readonly key: string;
  readonly displayName: string;
  readonly architecture: Architecture;
  readonly memoryGiB: number;
  readonly pciDeviceIds: readonly string[];
  /** Regexes over the normalised model name (upper case, no spaces, dashes or "NVIDIA"). */
  readonly namePatterns: readonly RegExp[];
  readonly geometry: GpuGeometry;
  readonly profiles: readonly MigProfile[];
  /** Board prefix of MIG-backed vGPU type names (A100D-1-10C); null where not confirmed (taken from the host). */
  readonly vgpuBoard: string | null;
  readonly source: string;
}

const GUIDE = "NVIDIA MIG User Guide, supported profiles table";

// Placement classes of 7-compute-slice GPUs: identical across models, only names and sizes differ.
const SEVEN_SLICE = {
  "1g": { id: 19, computeSlices: 1, memorySlices: 1, starts: [0, 1, 2, 3, 4, 5, 6], maxCount: 7 },
  "1g+me": { id: 20, computeSlices: 1, memorySlices: 1, starts: [0, 1, 2, 3, 4, 5, 6], maxCount: 1 },
  "1g.2m": { id: 15, computeSlices: 1, memorySlices: 2, starts: [0, 2, 4, 6], maxCount: 4 },
  "2g": { id: 14, computeSlices: 2, memorySlices: 2, starts: [0, 2, 4], maxCount: 3 },
  "3g": { id: 9, computeSlices: 3, memorySlices: 4, starts: [0, 4], maxCount: 2 },
  "4g": { id: 5, computeSlices: 4, memorySlices: 4, starts: [0], maxCount: 1 },
  "7g": { id: 0, computeSlices: 7, memorySlices: 8, starts: [0], maxCount: 1 },
} as const;

type SevenSliceClass = keyof typeof SEVEN_SLICE;

/** One row of mig-geometry.md: name, class, and which facts the table confirmed. */
interface Row {
  readonly name: string;
  readonly cls: SevenSliceClass;
  /** Whether the table gave the id (false: "?" in the table). */
  readonly idKnown?: boolean;
  /** Whether the table gave count and placements from a capture (false: "use the geometry"). */
  readonly confirmed?: boolean;
}

function sevenSliceProfiles(rows: readonly Row[]): MigProfile[] {
  return rows.map((row) => {
    const cls = SEVEN_SLICE[row.cls];
    return {
      id: row.idKnown === false ? null : cls.id,
      name: row.name,
      computeSlices: cls.computeSlices,
      memorySlices: cls.memorySlices,
      memoryGiB: memoryFromName(row.name),
      maxCount: cls.maxCount,
      starts: cls.starts,
      mediaExtensions: row.name.endsWith("+me"),
      confirmed: row.confirmed !== false && row.idKnown !== false,
    };
  });
}

function memoryFromName(name: string): number {
  const match = /\.([0-9]+)gb/.exec(name);
  return match ? Number(match[1]) : 0;
}

/** The usual seven rows of a 7-slice model, from the sizes of its 1g, 1g.2m, 3g and 7g profiles. */
function standardRows(
  m1: number,
  m2: number,
  m4: number,
  m8: number,
  confirmed: boolean,
  unknownIds: SevenSliceClass[] = [],
): Row[] {
  const row = (name: string, cls: SevenSliceClass): Row => ({
    name,
    cls,
    confirmed,
    idKnown: !unknownIds.includes(cls),
  });
  return [
    row(`1g.${m1}gb`, "1g"),
    row(`1g.${m1}gb+me`, "1g+me"),
    row(`1g.${m2}gb`, "1g.2m"),
    row(`2g.${m2}gb`, "2g"),
    row(`3g.${m4}gb`, "3g"),
    row(`4g.${m4}gb`, "4g"),
    row(`7g.${m8}gb`, "7g"),
  ];
}

const SEVEN: GpuGeometry = { positions: 8, computeSlices: 7 };

export const CATALOG: readonly CatalogEntry[] = [
  {
    key: "A30-24GB",
    displayName: "NVIDIA A30 24GB",
    architecture: "ampere",
    memoryGiB: 24,
    pciDeviceIds: ["10de:20b7"],
    namePatterns: [/^A30(24GB|PCIE)?$/],
    geometry: { positions: 4, computeSlices: 4 },
    profiles: [
      {
        id: 14,
        name: "1g.6gb",
        computeSlices: 1,
        memorySlices: 1,
        memoryGiB: 6,
        maxCount: 4,
        starts: [0, 1, 2, 3],
        mediaExtensions: false,
        confirmed: true,
      },
      {
        id: 21,
        name: "1g.6gb+me",
        computeSlices: 1,
        memorySlices: 1,
        memoryGiB: 6,
        maxCount: 1,
        starts: [0, 1, 2, 3],
        mediaExtensions: true,
        confirmed: true,
      },
      {
        id: 5,
        name: "2g.12gb",
        computeSlices: 2,
        memorySlices: 2,
        memoryGiB: 12,
        maxCount: 2,
        starts: [0, 2],
        mediaExtensions: false,
        confirmed: true,
      },
      {
        id: null,
        name: "2g.12gb+me",
        computeSlices: 2,
        memorySlices: 2,
        memoryGiB: 12,
        maxCount: 1,
        starts: [0, 2],
        mediaExtensions: true,
        confirmed: false,
      },
      {
        id: 0,
        name: "4g.24gb",
        computeSlices: 4,
        memorySlices: 4,
        memoryGiB: 24,
        maxCount: 1,
        starts: [0],
        mediaExtensions: false,
        confirmed: true,
      },
    ],
    vgpuBoard: "A30",
    source: `${GUIDE} (A30-24GB); 2g.12gb+me id and placements not confirmed, derived from the 4-slice geometry`,
  },
  {
    key: "A100-40GB",
    displayName: "NVIDIA A100 40GB",
    architecture: "ampere",
    memoryGiB: 40,
    pciDeviceIds: ["10de:20b0", "10de:20f1"],
    namePatterns: [/^A100(SXM4|PCIE)?40GB$/, /^A100(SXM4|PCIE)40GB/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(5, 10, 20, 40, true)),
    vgpuBoard: "A100",
    source:
      `${GUIDE} (A100-40GB) and nvidia-smi mig -lgip on A100-PCIE-40GB (R470); ` +
      `1g.10gb (id 15) needs R525 or newer`,
  },
  {
    key: "A100-80GB",
    displayName: "NVIDIA A100 80GB",
    architecture: "ampere",
    memoryGiB: 80,
    pciDeviceIds: ["10de:20b2", "10de:20b5"],
    namePatterns: [/^A100(SXM4|PCIE)?80GB(PCIE)?$/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(10, 20, 40, 80, false, ["1g.2m", "4g", "7g"])),
    vgpuBoard: "A100D",
    source:
      `${GUIDE} (A100-80GB): names, ids 19/20/14/9 and counts; ` +
      `ids of 1g.20gb, 4g.40gb, 7g.80gb and all placements not confirmed, derived from the 7-slice geometry`,
  },
  {
    key: "H100-SXM5-80GB",
    displayName: "NVIDIA H100 SXM5 80GB",
    architecture: "hopper",
    memoryGiB: 80,
    pciDeviceIds: ["10de:2330"],
    namePatterns: [/^H100SXM5?80GB$/, /^H10080GBHBM3$/, /^H100SXM$/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(10, 20, 40, 80, true)),
    vgpuBoard: null,
    source: `${GUIDE} (H100-SXM5-80GB); lspci 10de:2330 [H100 SXM5 80GB]`,
  },
  {
    key: "H100-PCIe-80GB",
    displayName: "NVIDIA H100 PCIe 80GB",
    architecture: "hopper",
    memoryGiB: 80,
    pciDeviceIds: ["10de:2331"],
    namePatterns: [/^H100PCIE(80GB)?$/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(10, 20, 40, 80, true)),
    vgpuBoard: null,
    source: `${GUIDE} (H100-PCIe-80GB) and nvidia-smi mig -lgipp on H100 PCIe (driver 525)`,
  },
  {
    key: "H100-NVL-94GB",
    displayName: "NVIDIA H100 NVL 94GB",
    architecture: "hopper",
    memoryGiB: 94,
    pciDeviceIds: ["10de:2321"],
    namePatterns: [/^H100NVL(94GB)?$/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(12, 24, 47, 94, true)),
    vgpuBoard: null,
    source: `${GUIDE} (H100-NVL-94GB)`,
  },
  {
    key: "H100-96GB-GH200",
    displayName: "NVIDIA GH200 (H100 96GB)",
    architecture: "hopper",
    memoryGiB: 96,
    pciDeviceIds: [],
    namePatterns: [/^H10096GB/, /^GH200(96|120|480)GB/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(12, 24, 48, 96, false)),
    vgpuBoard: null,
    source:
      `${GUIDE} (H100-96GB-GH200): names, ids and counts; ` +
      `placements not confirmed, derived from the 7-slice geometry; no PCI device id confirmed`,
  },
  {
    key: "H200-141GB",
    displayName: "NVIDIA H200 141GB",
    architecture: "hopper",
    memoryGiB: 141,
    pciDeviceIds: [],
    namePatterns: [/^H200(SXM|NVL)?(141GB)?$/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(18, 35, 71, 141, false)),
    vgpuBoard: null,
    source:
      `${GUIDE} (H200-141GB): names, ids and counts; ` +
      `placements not confirmed, derived from the 7-slice geometry; no PCI device id confirmed`,
  },
  {
    key: "GH200-144GB-HBM3e",
    displayName: "NVIDIA GH200 144GB HBM3e",
    architecture: "hopper",
    memoryGiB: 144,
    pciDeviceIds: [],
    namePatterns: [/^GH200(144GB|624GB)/, /^GH200.*HBM3E/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(18, 36, 72, 144, false, ["3g", "4g", "7g"])),
    vgpuBoard: null,
    source:
      `${GUIDE} (GH200-144GB-HBM3e): names and ids of 1g/2g profiles; ` +
      `ids and counts of 3g/4g/7g not confirmed; placements derived from the 7-slice geometry`,
  },
  {
    key: "B200-180GB",
    displayName: "NVIDIA B200 180GB",
    architecture: "blackwell",
    memoryGiB: 180,
    pciDeviceIds: [],
    namePatterns: [/^B200(180GB)?$/, /^B200SXM/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(23, 45, 90, 180, false, ["3g", "4g", "7g"])),
    vgpuBoard: null,
    source:
      `${GUIDE} (B200-180GB): names, ids of 1g/2g profiles and counts; ` +
      `ids of 3g/4g/7g and placements not confirmed`,
  },
  {
    key: "GB200",
    displayName: "NVIDIA GB200",
    architecture: "blackwell",
    memoryGiB: 186,
    pciDeviceIds: [],
    namePatterns: [/^GB200/],
    geometry: SEVEN,
    profiles: sevenSliceProfiles(standardRows(24, 47, 93, 186, false, ["3g", "4g", "7g"])),
    vgpuBoard: null,
    source:
      `${GUIDE} (GB200): names and ids of 1g/2g profiles; ` +
      `3g/4g/7g ids and counts not confirmed; drivers have reported 1g.23gb as well as 1g.24gb`,
  },
];

/**
 * Upper case, without "NVIDIA"/"TESLA", spaces, dashes and underscores:
 * "NVIDIA A100-SXM4-80GB" -> "A100SXM480GB".
 */
export function normaliseModelName(name: string): string {
  return name
    .toUpperCase()
    .replace(/\b(NVIDIA|TESLA)\b/g, "")
    .replace(/[\s_-]+/g, "");
}

export type ModelLookup =
  { kind: "found"; entry: CatalogEntry } | { kind: "ambiguous"; candidates: CatalogEntry[] } | { kind: "unknown" };

/** Finds a model by PCI device id first (most reliable), then by name. */
export function lookupModel(name: string, pciDeviceId?: string | null): ModelLookup {
  if (pciDeviceId) {
    const byId = CATALOG.find((entry) => entry.pciDeviceIds.includes(pciDeviceId.toLowerCase()));
    if (byId) return { kind: "found", entry: byId };
  }
  const normalised = normaliseModelName(name);
  const byKey = CATALOG.find((entry) => normaliseModelName(entry.key) === normalised);
  if (byKey) return { kind: "found", entry: byKey };
  const matches = CATALOG.filter((entry) => entry.namePatterns.some((pattern) => pattern.test(normalised)));
  if (matches.length === 1) return { kind: "found", entry: matches[0] };
  if (matches.length > 1) return { kind: "ambiguous", candidates: matches };
  return { kind: "unknown" };
}

export function profileByName(entry: CatalogEntry, name: string): MigProfile | undefined {
  return entry.profiles.find((profile) => profile.name === name);
}

/** The smallest one-compute-slice profile without media extensions: what `mig_slices: N` means. */
export function smallestProfile(entry: CatalogEntry): MigProfile {
  const candidates = entry.profiles.filter((profile) => profile.computeSlices === 1 && !profile.mediaExtensions);
  return candidates.reduce((best, profile) => (profile.memorySlices < best.memorySlices ? profile : best));
}

/** Known GPUs without MIG, so a wrong `mig_capable: true` gets a precise error. Architectures decide the vGPU path. */
export const NON_MIG_MODELS: readonly {
  pattern: RegExp;
  architecture: "pascal" | "volta" | "turing" | "ampere" | "ada" | "hopper";
}[] = [
  { pattern: /^RTXA(4000|4500|5000|6000)$/, architecture: "ampere" },
  { pattern: /^RTX(4000|4500|5000|6000)ADA/, architecture: "ada" },
  { pattern: /^RTX6000$/, architecture: "ada" },
  { pattern: /^(GEFORCE)?RTX40[0-9]0/, architecture: "ada" },
  { pattern: /^(GEFORCE)?RTX30[0-9]0/, architecture: "ampere" },
  { pattern: /^(GEFORCE)?RTX50[0-9]0/, architecture: "ada" },
  { pattern: /^L40S?$/, architecture: "ada" },
  { pattern: /^L4$/, architecture: "ada" },
  { pattern: /^A(2|10|16|40)$/, architecture: "ampere" },
  { pattern: /^(QUADRO)?RTX(8000|6000)$/, architecture: "turing" },
  { pattern: /^T4$/, architecture: "turing" },
  { pattern: /^V100/, architecture: "volta" },
  { pattern: /^P(4|40|100)$/, architecture: "pascal" },
];

export function nonMigArchitecture(name: string): string | null {
  // Memory suffixes vary by how people write the model ("L40S 48GB"); the architecture does not.
  const normalised = normaliseModelName(name).replace(/[0-9]+GB$/, "");
  return NON_MIG_MODELS.find((model) => model.pattern.test(normalised))?.architecture ?? null;
}
