// One resource driven through the provider host with the engine's sequence of calls for each operation:
// preview = Check + Diff (no Create/Update: the dynamic provider host does not support previews, so the
// engine shows the new inputs as the outputs); up = Check + Diff + Create/Update/replace (delete first when
// the provider asks for deleteBeforeReplace); refresh = Read; destroy = Delete.
import { PROVIDER_KEY, type DiffResult, type Props, type ProviderHost } from "./provider-host";

export type StepKind = "create" | "same" | "update" | "replace";

export interface Step {
  readonly kind: StepKind;
  readonly diff: DiffResult | null;
}

export class EngineResource {
  id = "";
  /** Checked inputs of the last successful step (what the engine keeps as the resource's inputs). */
  inputs: Props = {};
  /** Outputs the engine keeps in state. */
  outputs: Props = {};

  constructor(
    private readonly host: ProviderHost,
    readonly type: string,
    readonly name: string,
    private readonly providerText: string,
  ) {}

  get urn(): string {
    return `urn:pulumi:test::hyperscaler::pulumi-nodejs:dynamic/hyperscaler:${this.type}::${this.name}`;
  }

  private withProvider(inputs: Props): Props {
    return { ...inputs, [PROVIDER_KEY]: this.providerText };
  }

  private async checked(news: Props): Promise<Props> {
    const { inputs, failures } = await this.host.check(this.urn, this.inputs, this.withProvider(news));
    if (failures.length)
      throw new Error(`check failed: ${failures.map((f) => `${f.property}: ${f.reason}`).join("; ")}`);
    return inputs;
  }

  private kindOf(diff: DiffResult): StepKind {
    if (diff.replaces.length > 0) return "replace";
    return diff.changes === "none" ? "same" : "update";
  }

  /** What a preview shows for these inputs (they may hold the UNKNOWN sentinel). */
  async preview(news: Props): Promise<Step> {
    const inputs = await this.checked(news);
    if (!this.id) return { kind: "create", diff: null };
    const diff = await this.host.diff(this.urn, this.id, this.outputs, inputs);
    return { kind: this.kindOf(diff), diff };
  }

  async up(news: Props): Promise<Step> {
    const inputs = await this.checked(news);
    if (!this.id) {
      await this.create(inputs);
      return { kind: "create", diff: null };
    }
    const diff = await this.host.diff(this.urn, this.id, this.outputs, inputs);
    const kind = this.kindOf(diff);
    if (kind === "update") {
      this.outputs = await this.host.update(this.urn, this.id, this.outputs, inputs);
      this.inputs = inputs;
    } else if (kind === "replace") {
      if (diff.deleteBeforeReplace) {
        await this.host.delete(this.urn, this.id, this.outputs);
        this.id = "";
        await this.create(inputs);
      } else {
        const old = { id: this.id, outputs: this.outputs };
        await this.create(inputs);
        await this.host.delete(this.urn, old.id, old.outputs);
      }
    }
    return { kind, diff };
  }

  private async create(inputs: Props): Promise<void> {
    const created = await this.host.create(this.urn, inputs);
    this.id = created.id;
    this.outputs = created.outputs;
    this.inputs = inputs;
  }

  /** Read (refresh); returns the outputs libvirt reports, or null when the object is gone. */
  async refresh(): Promise<Props | null> {
    const read = await this.host.read(this.urn, this.id, this.outputs, this.inputs);
    if (!read.id) return null;
    this.outputs = read.outputs;
    return read.outputs;
  }

  async destroy(): Promise<void> {
    await this.host.delete(this.urn, this.id, this.outputs);
  }

  /** The outputs without the serialized provider (for assertions). */
  get visibleOutputs(): Props {
    const { [PROVIDER_KEY]: _provider, ...rest } = this.outputs;
    void _provider;
    return rest;
  }
}
