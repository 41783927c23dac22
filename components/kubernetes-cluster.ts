// KubernetesCluster: the cloud half. The cluster CA, an admin client certificate and the bootstrap token
// are generated up front (so workers join without a round trip and the kubeconfig is known before the
// cluster exists); the VMs run kubeadm through cloud-init; a Kubernetes provider waits for the API
// server and installs the add-ons.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import type { PlannedVm } from "../src/plan/types";
import {
  apiServerEndpoint,
  deviceResources,
  discoveryHash,
  migStrategy,
  renderKubeconfig,
} from "../src/render/kubernetes";
import type { PlanLayout } from "../src/render/layers";
import type { ClusterSpec } from "../src/spec/types";
import { duplicateOf } from "../src/util/duplicates";
import { refuseArgs } from "./args-error";
import { KubernetesAddons } from "./kubernetes-addons";
import { VirtualMachine, type VmSettings } from "./virtual-machine";

export interface KubernetesClusterArgs {
  /** The spec's cluster name (kubeconfig), `clusters.cloud` (versions, CIDRs, ingress) and services. */
  readonly spec: Pick<ClusterSpec, "metadata" | "clusters" | "services">;
  /** The plan's layout: its `cloud` VMs (one k8s-control-plane, the workers) and the GPUs they get. */
  readonly plan: PlanLayout;
  /** Everything a VM needs except its role's secrets, which this component makes (PKI, token). */
  readonly vmArgs: (vm: PlannedVm) => VmSettings;
  /** Install add-ons through the cluster's API (false: VMs only, e.g. when VMs are not started). @default true */
  readonly addons?: boolean;
}

function validate(name: string, args: KubernetesClusterArgs): void {
  const vms = args.plan.vms.filter((vm) => vm.cluster === "cloud");
  const controlPlanes = vms.filter((vm) => vm.role === "k8s-control-plane");
  const names = args.plan.vms.map((vm) => vm.name);
  refuseArgs("KubernetesCluster", name, [
    !args.spec.clusters.cloud && {
      problem: "the spec has no clusters.cloud",
      found: undefined,
      expected: "a Kubernetes cluster spec",
      fix: "add clusters.cloud to the spec",
    },
    vms.length === 0 && {
      problem: "the plan has no cloud VMs",
      found: [],
      expected: "a k8s-control-plane VM and its workers",
      fix: "plan a spec with clusters.cloud (buildPlan)",
    },
    controlPlanes.length !== 1 && {
      problem: "the cluster needs exactly one control plane",
      found: controlPlanes.map((vm) => vm.name),
      expected: "one VM with role k8s-control-plane",
      fix: "add clusters.cloud.control_plane to the spec and plan it again",
    },
    duplicateOf(names) !== undefined && {
      problem: "two VMs have the same name",
      found: duplicateOf(names),
      expected: "distinct VM names",
      fix: "plan the spec again (buildPlan names each VM once)",
    },
  ]);
}

const lowerAlnum = { upper: false, special: false, lower: true, numeric: true } as const;

export class KubernetesCluster extends pulumi.ComponentResource {
  readonly kubeconfig: pulumi.Output<string>;
  readonly caCertHash: pulumi.Output<string>;
  readonly apiServer: string;
  readonly provider: k8s.Provider;
  readonly migStrategy: string;
  readonly gpuResources: Record<string, Record<string, number>>;
  readonly addons: KubernetesAddons | undefined;
  readonly vms: VirtualMachine[];

  constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    validate(name, args);
    super("hyperscaler:index:KubernetesCluster", name, {}, opts);
    const { spec, plan } = args;
    const child = { parent: this };
    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "RSA", rsaBits: 2048 }, child);
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        validityPeriodHours: 10 * 365 * 24,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"],
        subject: { commonName: "kubernetes" },
      },
      child,
    );
    const adminKey = new tls.PrivateKey(`${name}-admin-key`, { algorithm: "RSA", rsaBits: 2048 }, child);
    const adminCsr = new tls.CertRequest(
      `${name}-admin-csr`,
      {
        privateKeyPem: adminKey.privateKeyPem,
        subject: { commonName: "kubernetes-admin", organization: "system:masters" },
      },
      child,
    );
    const admin = new tls.LocallySignedCert(
      `${name}-admin-cert`,
      {
        certRequestPem: adminCsr.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 365 * 24,
        allowedUses: ["client_auth", "digital_signature", "key_encipherment"],
      },
      child,
    );
    const tokenId = new random.RandomString(`${name}-token-id`, { length: 6, ...lowerAlnum }, child);
    const tokenSecret = new random.RandomString(`${name}-token-secret`, { length: 16, ...lowerAlnum }, child);
    const token = pulumi.secret(pulumi.interpolate`${tokenId.result}.${tokenSecret.result}`);
    this.caCertHash = ca.certPem.apply(discoveryHash);

    const roleSecrets = pulumi
      .all([token, ca.certPem, pulumi.secret(caKey.privateKeyPem), this.caCertHash])
      .apply(([t, caCertPem, caKeyPem, caCertHash]) => ({ kubernetes: { token: t, caCertPem, caKeyPem, caCertHash } }));
    const vms = (this.vms = plan.vms
      .filter((vm) => vm.cluster === "cloud")
      .map((vm) => new VirtualMachine(vm.name, { ...args.vmArgs(vm), roleSecrets }, child)));
    const cp = vms.find((_, i) => plan.vms.filter((v) => v.cluster === "cloud")[i].role === "k8s-control-plane")!;

    this.apiServer = `https://${apiServerEndpoint(plan)}`;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([ca.certPem, admin.certPem, adminKey.privateKeyPem])
        .apply(([caPem, cert, key]) => renderKubeconfig(spec, plan, { ca: caPem, cert, key })),
    );
    // kubeadm init runs inside the VM after boot: wait until the API server answers before using it.
    const ready = new command.local.Command(
      `${name}-api-ready`,
      {
        create:
          `for i in $(seq 1 240); do ` +
          `if curl -sf --cacert <(printf '%s' "$CA_PEM") ${this.apiServer}/readyz >/dev/null; ` +
          `then exit 0; fi; sleep 5; done; echo "API server ${this.apiServer} not ready after 20 minutes" >&2; exit 1`,
        interpreter: ["/bin/bash", "-c"],
        environment: { CA_PEM: ca.certPem },
        triggers: [cp.domain.id],
      },
      { ...child, dependsOn: [cp] },
    );
    this.provider = new k8s.Provider(
      `${name}-provider`,
      { kubeconfig: this.kubeconfig, enableServerSideApply: true },
      { ...child, dependsOn: [ready] },
    );
    this.addons =
      (args.addons ?? true)
        ? new KubernetesAddons(`${name}-addons`, { spec, plan }, { parent: this, provider: this.provider })
        : undefined;
    this.migStrategy = migStrategy(plan);
    this.gpuResources = Object.fromEntries(
      plan.vms
        .filter((vm) => vm.cluster === "cloud" && vm.gpus.length > 0)
        .map((vm) => [vm.name, deviceResources(plan, vm)]),
    );
    this.registerOutputs({ kubeconfig: this.kubeconfig, apiServer: this.apiServer, caCertHash: this.caCertHash });
  }
}
