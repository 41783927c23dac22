// Network namespaces for firewall tests: everything that carries an address lives in namespaces the
// test creates (unique names) and removes, never in the root namespace.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(command: string, args: readonly string[], input?: string, timeoutMs = 20_000): Run {
  const result = spawnSync(command, [...args], { encoding: "utf8", input, timeout: timeoutMs });
  return {
    code: result.error ? null : result.status,
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? String(result.error?.message ?? ""),
  };
}

function must(command: string, args: readonly string[], input?: string): string {
  const result = run(command, args, input);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr.trim() || result.stdout.trim()}`);
  return result.stdout;
}

/** Why namespace firewall tests cannot run here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root (ip netns, nft)";
  for (const tool of ["nft", "ip", "socat"])
    if (run("sh", ["-c", `command -v ${tool}`]).code !== 0)
      return `${tool} is not installed (Debian packages nftables, iproute2, socat)`;
  const probe = `hsprobe${randomBytes(3).toString("hex")}`;
  if (run("ip", ["netns", "add", probe]).code !== 0) return "cannot create network namespaces (ip netns add failed)";
  try {
    if (run("ip", ["netns", "exec", probe, "nft", "list", "ruleset"]).code !== 0)
      return "nft cannot talk to netfilter inside a namespace";
  } finally {
    run("ip", ["netns", "del", probe]);
  }
  return null;
}

/** A set of namespaces with a common random prefix, and the listeners started in them. */
export class NetnsLab {
  readonly prefix = `hsfw${randomBytes(3).toString("hex")}`;
  private readonly namespaces: string[] = [];
  private readonly processes: ChildProcess[] = [];

  /** Adds a namespace named `<prefix>-<role>` with loopback up. */
  add(role: string): string {
    const name = `${this.prefix}-${role}`;
    must("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    must("ip", ["-n", name, "link", "set", "lo", "up"]);
    return name;
  }

  ip(ns: string, ...args: string[]): string {
    return must("ip", ["-n", ns, ...args]);
  }

  exec(ns: string, command: string, args: readonly string[], input?: string, timeoutMs?: number): Run {
    return run("ip", ["netns", "exec", ns, command, ...args], input, timeoutMs);
  }

  sysctl(ns: string, setting: string): void {
    const result = this.exec(ns, "sysctl", ["-qw", setting]);
    if (result.code !== 0) throw new Error(`sysctl ${setting} in ${ns}: ${result.stderr}`);
  }

  /** A veth from `router` (named `routerSide`) to `ns` (named eth0), addresses set, links up. */
  link(
    router: string,
    routerSide: string,
    ns: string,
    nsAddress: string,
    gateway: string,
    options: { bridge?: string; routerAddress?: string } = {},
  ): void {
    this.ip(router, "link", "add", routerSide, "type", "veth", "peer", "name", "eth0", "netns", ns);
    if (options.bridge) this.ip(router, "link", "set", routerSide, "master", options.bridge);
    if (options.routerAddress) this.ip(router, "addr", "add", options.routerAddress, "dev", routerSide);
    this.ip(router, "link", "set", routerSide, "up");
    this.ip(ns, "addr", "add", nsAddress, "dev", "eth0");
    this.ip(ns, "link", "set", "eth0", "up");
    this.ip(ns, "route", "add", "default", "via", gateway);
  }

  /** A TCP listener in `ns` that answers each connection with the peer address it sees. */
  listen(ns: string, port: number): void {
    const child = spawn(
      "ip",
      ["netns", "exec", ns, "socat", `TCP-LISTEN:${port},reuseaddr,fork`, "SYSTEM:echo $SOCAT_PEERADDR"],
      { stdio: "ignore" },
    );
    this.processes.push(child);
  }

  /** A UDP receiver in `ns`; the returned function gives every payload received so far. */
  receiveUdp(ns: string, port: number): () => string {
    const child = spawn("ip", ["netns", "exec", ns, "socat", "-u", `UDP-RECV:${port}`, "STDOUT"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.processes.push(child);
    let received = "";
    child.stdout.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
    });
    return () => received;
  }

  /** Sends one UDP datagram from `ns` (optionally from a given source address). */
  sendUdp(ns: string, address: string, port: number, payload: string, bind?: string): void {
    const result = this.exec(
      ns,
      "socat",
      ["-u", "-", `UDP:${address}:${port}${bind ? `,bind=${bind}` : ""}`],
      payload,
      5_000,
    );
    if (result.code !== 0) throw new Error(`sending UDP from ${ns}: ${result.stderr}`);
  }

  /** Waits until a listener answers from inside its own namespace. */
  waitListening(ns: string, address: string, port: number): void {
    for (let attempt = 0; attempt < 50; attempt++) {
      if (this.connect(ns, address, port) !== null) return;
      spawnSync("sleep", ["0.1"]);
    }
    throw new Error(`listener ${address}:${port} in ${ns} did not come up`);
  }

  /** Connects from `ns` and returns the peer address the listener saw, or null when it did not connect. */
  connect(ns: string, address: string, port: number, bind?: string): string | null {
    const target = `TCP:${address}:${port},connect-timeout=1${bind ? `,bind=${bind}` : ""}`;
    const result = this.exec(ns, "socat", ["-T", "2", "-", target], "", 5_000);
    return result.code === 0 && result.stdout.trim() ? result.stdout.trim() : null;
  }

  /** Stops the listeners and removes every namespace (their interfaces go with them). */
  destroy(): string[] {
    for (const child of this.processes) child.kill("SIGKILL");
    for (const ns of this.namespaces) run("ip", ["netns", "del", ns]);
    return run("ip", ["netns", "list"])
      .stdout.split("\n")
      .filter((line) => line.startsWith(this.prefix));
  }
}
