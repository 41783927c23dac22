// Provider-protocol harness: starts the SDK's real dynamic provider host (the program the engine runs as
// `pulumi-resource-pulumi-nodejs`: @pulumi/pulumi/cmd/dynamic-provider) and drives it over gRPC the way the
// engine does: GetPluginInfo, Configure, Check, Diff, Create, Read, Update, Delete, with inputs and outputs
// as protobuf Structs, the engine's unknown sentinel during preview, and secrets handled as the engine
// handles them for a provider that does not accept secrets (unwrapped on the way in, outputs of secret
// inputs marked secret on the way out).
//
// This checks our providers against the protocol path every real value takes. It is not a substitute for
// `pulumi up`: no state file, no step ordering across resources, no plugin resolution.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ROOT } from "../helpers";

/* eslint-disable @typescript-eslint/no-require-imports */
const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const structproto = require("google-protobuf/google/protobuf/struct_pb");
const emptyproto = require("google-protobuf/google/protobuf/empty_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const rpc = require("@pulumi/pulumi/runtime/rpc") as {
  unknownValue: string;
  specialSigKey: string;
  specialSecretSig: string;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** The engine's marker for a value not known during preview. */
export const UNKNOWN = rpc.unknownValue;
export const SECRET_KEY = rpc.specialSigKey;
export const SECRET_SIG = rpc.specialSecretSig;
export const PROVIDER_KEY = "__provider";
export const HOST_SCRIPT = path.join(ROOT, "node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js");

export type Props = Record<string, unknown>;

/** A value marked secret the way the SDK sends it to the engine. */
export function secret<T>(value: T): { [k: string]: unknown } {
  return { [SECRET_KEY]: SECRET_SIG, value };
}

export function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Props)[SECRET_KEY] === SECRET_SIG;
}

/**
 * Serializes a provider object exactly as pulumi.dynamic.Resource does (runtime.serializeFunction of () => provider).
 */
export async function serializeProvider(provider: pulumi.dynamic.ResourceProvider): Promise<string> {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return serialized.text;
}

/** The engine does not send undefined (the SDK drops it); a Struct cannot hold it. */
function dropUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, dropUndefined(v)]),
    );
  return value;
}

function toStruct(props: Props): unknown {
  return structproto.Struct.fromJavaScript(dropUndefined(props));
}

/** What the engine does for a provider that answered Configure with acceptSecrets=false. */
function unwrapSecrets(value: unknown): unknown {
  if (isSecret(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  return value;
}

function secretKeys(props: Props): Set<string> {
  return new Set(
    Object.entries(props)
      .filter(([, v]) => isSecret(v))
      .map(([k]) => k),
  );
}

/** Outputs whose inputs of the same name were secret stay secret (the engine's rule for such providers). */
function markSecrets(outputs: Props, secrets: Set<string>): Props {
  return Object.fromEntries(
    Object.entries(outputs).map(([k, v]) => [k, secrets.has(k) && !isSecret(v) ? secret(v) : v]),
  );
}

export interface DiffResult {
  readonly changes: "none" | "some" | "unknown";
  readonly replaces: string[];
  readonly stables: string[];
  readonly deleteBeforeReplace: boolean;
  readonly detailedDiff: Record<string, unknown>;
}

export interface CallLog {
  readonly method: string;
  readonly ms: number;
}

/** One running provider host process and a gRPC client to it. */
export class ProviderHost {
  readonly calls: CallLog[] = [];
  private acceptSecrets = true;

  private constructor(
    private readonly child: ChildProcess,
    private readonly client: Record<string, (req: unknown, cb: (err: Error | null, res: unknown) => void) => void>,
    readonly stderr: string[],
  ) {}

  /** Starts the host as the engine does (`node <host> <engine address>`) and connects to the port it prints. */
  static async start(env: NodeJS.ProcessEnv = process.env): Promise<ProviderHost> {
    // The engine address is required on the command line; the dynamic provider host never dials it.
    const child = spawn(process.execPath, [HOST_SCRIPT, "127.0.0.1:1"], {
      env,
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stderr: string[] = [];
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`provider host printed no port within 30 s: ${stderr.join("")}`)),
        30_000,
      );
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /^(\d+)\s*$/m.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.on("exit", (code) => reject(new Error(`provider host exited with ${code}: ${stderr.join("")}`)));
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ProviderHost(child, client, stderr);
  }

  async stop(): Promise<void> {
    (this.client as unknown as { close(): void }).close();
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      await exited;
    }
  }

  private call<T>(method: string, request: unknown): Promise<T> {
    const started = performance.now();
    return new Promise<T>((resolve, reject) => {
      this.client[method].call(this.client, request, (err, res) => {
        this.calls.push({ method, ms: performance.now() - started });
        if (err) reject(new Error(`${method}: ${(err as Error & { details?: string }).details ?? err.message}`));
        else resolve(res as T);
      });
    });
  }

  async getPluginInfo(): Promise<string> {
    const res = await this.call<{ getVersion(): string }>("getPluginInfo", new emptyproto.Empty());
    return res.getVersion();
  }

  /** Configure as the engine does; returns whether the provider accepts secrets. */
  async configure(config: Props = {}): Promise<boolean> {
    const req = new provproto.ConfigureRequest();
    req.setArgs(toStruct(config));
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    const res = await this.call<{ getAcceptsecrets(): boolean }>("configure", req);
    this.acceptSecrets = res.getAcceptsecrets();
    return this.acceptSecrets;
  }

  private wire(props: Props): unknown {
    return toStruct(this.acceptSecrets ? props : (unwrapSecrets(props) as Props));
  }

  private back(struct: { toJavaScript(): Props } | undefined, inputs: Props): Props {
    const props = struct ? struct.toJavaScript() : {};
    return this.acceptSecrets ? props : markSecrets(props, secretKeys(inputs));
  }

  async check(
    urn: string,
    olds: Props,
    news: Props,
  ): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }> {
    const req = new provproto.CheckRequest();
    req.setUrn(urn);
    req.setOlds(this.wire(olds));
    req.setNews(this.wire(news));
    const res = await this.call<{
      getInputs(): { toJavaScript(): Props };
      getFailuresList(): { getProperty(): string; getReason(): string }[];
    }>("check", req);
    return {
      inputs: this.back(res.getInputs(), news),
      failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(urn: string, id: string, olds: Props, news: Props): Promise<DiffResult> {
    const req = new provproto.DiffRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setOlds(this.wire(olds));
    req.setNews(this.wire(news));
    const res = await this.call<{
      getChanges(): number;
      getReplacesList(): string[];
      getStablesList(): string[];
      getDeletebeforereplace(): boolean;
      getDetaileddiffMap(): { toObject(): [string, unknown][] };
    }>("diff", req);
    const changes = res.getChanges();
    const kinds = provproto.DiffResponse.DiffChanges;
    return {
      changes: changes === kinds.DIFF_SOME ? "some" : changes === kinds.DIFF_NONE ? "none" : "unknown",
      replaces: res.getReplacesList(),
      stables: res.getStablesList(),
      deleteBeforeReplace: res.getDeletebeforereplace(),
      detailedDiff: Object.fromEntries(res.getDetaileddiffMap().toObject()),
    };
  }

  async create(urn: string, inputs: Props): Promise<{ id: string; outputs: Props }> {
    const req = new provproto.CreateRequest();
    req.setUrn(urn);
    req.setProperties(this.wire(inputs));
    req.setPreview(false);
    const res = await this.call<{ getId(): string; getProperties(): { toJavaScript(): Props } }>("create", req);
    return { id: res.getId(), outputs: this.back(res.getProperties(), inputs) };
  }

  async read(urn: string, id: string, state: Props, inputs: Props): Promise<{ id: string; outputs: Props }> {
    const req = new provproto.ReadRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setProperties(this.wire(state));
    req.setInputs(this.wire(inputs));
    const res = await this.call<{ getId(): string; getProperties(): { toJavaScript(): Props } | undefined }>(
      "read",
      req,
    );
    return { id: res.getId(), outputs: this.back(res.getProperties(), state) };
  }

  async update(urn: string, id: string, olds: Props, news: Props): Promise<Props> {
    const req = new provproto.UpdateRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setOlds(this.wire(olds));
    req.setNews(this.wire(news));
    req.setPreview(false);
    const res = await this.call<{ getProperties(): { toJavaScript(): Props } }>("update", req);
    return this.back(res.getProperties(), news);
  }

  async delete(urn: string, id: string, state: Props): Promise<void> {
    const req = new provproto.DeleteRequest();
    req.setUrn(urn);
    req.setId(id);
    req.setProperties(this.wire(state));
    await this.call("delete", req);
  }
}
