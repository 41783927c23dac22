// The bring-up test's sandbox: a network namespace with no uplink and a private libvirtd inside it (its
// own mount namespace: sockets, definitions, pool directory and logs under a state directory), so every
// address-bearing object (bridge, dnsmasq, NAT rules, VMs) lives and dies with the namespace.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Sandbox {
  readonly name: string;
  /** Host directory behind the daemon's /run/libvirt, /etc/libvirt, /var/lib/libvirt, /var/log/libvirt. */
  readonly state: string;
  readonly uri: string;
  /** Prefix that runs a command inside the namespace. */
  readonly exec: readonly string[];
  /** A path the daemon sees (e.g. /var/log/libvirt/qemu/x.log) as seen from the host. */
  hostPath(daemonPath: string): string;
}

function sh(command: string, args: readonly string[]): { code: number | null; out: string } {
  const result = spawnSync(command, [...args], { encoding: "utf8" });
  return { code: result.status, out: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

function must(command: string, args: readonly string[]): string {
  const result = sh(command, args);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.out || `exit ${result.code}`}`);
  return result.out;
}

const MOUNTS: Record<string, string> = {
  "/run/libvirt": "run",
  "/etc/libvirt": "etc",
  "/var/lib/libvirt": "lib",
  "/var/cache/libvirt": "cache",
  "/var/log/libvirt": "log",
};

export class LibvirtSandbox implements Sandbox {
  readonly name: string;
  readonly state: string;
  readonly uri: string;
  readonly exec: readonly string[];
  private daemon: ChildProcess | null = null;

  constructor(name: string, state: string) {
    this.name = name;
    this.state = state;
    this.uri = `qemu+unix:///system?socket=${path.join(state, "run", "libvirt-sock")}`;
    this.exec = ["ip", "netns", "exec", name];
  }

  hostPath(daemonPath: string): string {
    for (const [mount, dir] of Object.entries(MOUNTS))
      if (daemonPath.startsWith(`${mount}/`)) return path.join(this.state, dir, daemonPath.slice(mount.length + 1));
    return daemonPath;
  }

  async start(script: string, timeoutMs = 30_000): Promise<void> {
    must("ip", ["netns", "add", this.name]);
    must("ip", ["-n", this.name, "link", "set", "lo", "up"]);
    fs.mkdirSync(this.state, { recursive: true, mode: 0o700 });
    const log = fs.openSync(path.join(this.state, "libvirtd.log"), "a");
    this.daemon = spawn("bash", [script, this.name, this.state], { stdio: ["ignore", log, log], detached: true });
    fs.closeSync(log);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (sh("virsh", ["-c", this.uri, "version"]).code === 0) return;
      if (this.daemon.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    throw new Error(
      `the namespace's libvirtd did not come up within ${timeoutMs / 1000} s: ` +
        `${fs.readFileSync(path.join(this.state, "libvirtd.log"), "utf8").slice(-1500)}`,
    );
  }

  /** What is left of the test inside libvirt and the namespace (empty when clean). */
  leftovers(): string[] {
    const left: string[] = [];
    const list = (what: string, args: string[]): void => {
      const result = sh("virsh", ["-q", "-c", this.uri, ...args]);
      if (result.code !== 0) left.push(`${what}: virsh ${args[0]} failed: ${result.out}`);
      else
        for (const line of result.out
          .split("\n")
          .map((l) => l.trim())
          .filter(Boolean))
          left.push(`${what} ${line.split(/\s+/)[0]}`);
    };
    list("libvirt domain", ["list", "--all", "--name"]);
    list("libvirt network", ["net-list", "--all", "--name"]);
    list("libvirt pool", ["pool-list", "--all", "--name"]);
    const links = sh("ip", ["-n", this.name, "-o", "link", "show"])
      .out.split("\n")
      .map((l) => l.split(":")[1]?.trim().split("@")[0])
      .filter((l) => l && l !== "lo");
    for (const link of links) left.push(`namespace link ${link}`);
    const processes = sh("ip", ["netns", "pids", this.name])
      .out.split("\n")
      .filter(Boolean)
      .map((pid) => sh("ps", ["-o", "comm=", "-p", pid]).out)
      .filter((comm) => comm && !/^(libvirtd|virtlogd)$/.test(comm));
    for (const comm of processes) left.push(`namespace process ${comm}`);
    return left;
  }

  /** Stops the daemons and removes the namespace and the state directory; returns what still exists. */
  stop(): string[] {
    const pids = sh("ip", ["netns", "pids", this.name]).out.split("\n").filter(Boolean);
    for (const pid of pids) spawnSync("kill", ["-TERM", pid]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && sh("ip", ["netns", "pids", this.name]).out.trim()) spawnSync("sleep", ["0.2"]);
    for (const pid of sh("ip", ["netns", "pids", this.name]).out.split("\n").filter(Boolean))
      spawnSync("kill", ["-KILL", pid]);
    sh("ip", ["netns", "delete", this.name]);
    fs.rmSync(this.state, { recursive: true, force: true });
    const left: string[] = [];
    if (
      sh("ip", ["netns", "list"])
        .out.split("\n")
        .some((line) => line.split(" ")[0] === this.name)
    )
      left.push(`network namespace ${this.name}`);
    if (fs.existsSync(this.state)) left.push(`state directory ${this.state}`);
    return left;
  }
}
