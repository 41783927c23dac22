// The public API, read with the TypeScript compiler: every prop of every component's Args (the props
// types src/index.ts exports) is readonly and documented, optional props say their @default, and the
// figures for the closing note (public exports, props documented / total) are printed.
import * as path from "node:path";
import * as ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers";

const INDEX = path.join(ROOT, "src/index.ts");

interface Prop {
  readonly owner: string;
  readonly name: string;
  readonly documented: boolean;
  readonly readonly: boolean;
  readonly optional: boolean;
  readonly hasDefault: boolean;
}

function analyse(): { exports: string[]; props: Prop[] } {
  const program = ts.createProgram([INDEX], {
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
    esModuleInterop: true,
    resolveJsonModule: true,
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(INDEX)!)!;
  const exported = checker.getExportsOfModule(module);
  const props: Prop[] = [];
  for (const symbol of exported.filter((s) => s.name.endsWith("Args"))) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    for (const declaration of target.declarations ?? []) {
      if (!ts.isInterfaceDeclaration(declaration)) continue;
      for (const member of declaration.members) {
        if (!ts.isPropertySignature(member)) continue;
        const comment = ts
          .getJSDocCommentsAndTags(member)
          .filter(ts.isJSDoc)
          .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? "")
          .join("")
          .trim();
        props.push({
          owner: symbol.name,
          name: member.name.getText(),
          documented: comment.length > 0,
          readonly: member.modifiers?.some((m) => m.kind === ts.SyntaxKind.ReadonlyKeyword) ?? false,
          optional: member.questionToken !== undefined,
          hasDefault: ts.getJSDocTags(member).some((tag) => tag.tagName.text === "default"),
        });
      }
    }
  }
  return { exports: exported.map((s) => s.name).sort(), props };
}

describe("public API (src/index.ts)", () => {
  const { exports, props } = analyse();

  it("exports the components, their props types and the pure functions under them", () => {
    for (const name of [
      "BaseImage",
      "ClusterNetwork",
      "GpuHost",
      "HostFirewall",
      "KubernetesAddons",
      "KubernetesCluster",
      "MlopsServices",
      "SlurmCluster",
      "VirtualMachine",
    ]) {
      expect(exports).toContain(name);
      expect(exports).toContain(`${name}Args`);
    }
    for (const name of [
      "loadSpecFile",
      "probeLive",
      "loadHost",
      "buildPlan",
      "renderAll",
      "vmLayers",
      "buildStack",
      "settingsFromConfig",
      "ClusterSpec",
      "HostInventory",
      "Plan",
      "PlannedVm",
      "PlannedNetwork",
    ]) {
      expect(exports).toContain(name);
    }
  });

  it("every component prop is readonly and documented; optional ones give their @default", () => {
    const documented = props.filter((p) => p.documented).length;
    process.stdout.write(
      `public API: ${exports.length} exports; component props documented ${documented}/${props.length}\n`,
    );
    expect(props.length).toBeGreaterThan(30);
    expect(props.filter((p) => !p.documented).map((p) => `${p.owner}.${p.name}`)).toEqual([]);
    expect(props.filter((p) => !p.readonly).map((p) => `${p.owner}.${p.name}`)).toEqual([]);
    expect(props.filter((p) => p.optional && !p.hasDefault).map((p) => `${p.owner}.${p.name}`)).toEqual([]);
  });
});
