// `hyperscaler verify`'s SSH path against a real sshd on loopback: the host key the stack pins (an
// ed25519 key, as VirtualMachine makes it) is accepted through the stack's known_hosts line, a VM that
// answers with another key is refused, and commands with quotes and pipes arrive intact.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Plan, PlannedVm } from "../../src/plan/types";
import { knownHostsLine } from "../../src/render/cloud-init/ssh-host-key";
import { sshRemote, type SshOptions } from "../../src/verify/remote";
import { tempDir, freePort } from "../helpers";

const SSHD = "/usr/sbin/sshd";

function keygen(file: string): { privateKey: string; publicKey: string } {
  const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`ssh-keygen: ${made.stderr}`);
  return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8") };
}

async function listening(port: number, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe("verify's SSH against a real sshd with the stack's pinned host key", () => {
  const dir = tempDir("hs-ssh-");
  const vm = { name: "hs-test-node-01", ip: "127.0.0.1", network: "hpc" } as PlannedVm;
  const plan = { networks: [{ name: "hpc", domain: "hpc.hs-test.internal" }] } as unknown as Plan;
  let sshd: ChildProcess | undefined;
  let port = 0;
  let options: SshOptions;

  beforeAll(async () => {
    expect(fs.existsSync(SSHD), `${SSHD} is missing: .ci/run installs openssh-server`).toBe(true);
    const hostKey = keygen(path.join(dir, "host_ed25519"));
    keygen(path.join(dir, "user_ed25519"));
    fs.writeFileSync(path.join(dir, "authorized_keys"), fs.readFileSync(path.join(dir, "user_ed25519.pub")), {
      mode: 0o600,
    });
    // The line the stack outputs, moved to the test's port: ssh looks up a non-22 port as "[addr]:port".
    port = await freePort();
    const line = knownHostsLine(plan, vm, hostKey.publicKey);
    expect(line).toMatch(/^hs-test-node-01,hs-test-node-01\.hpc\.hs-test\.internal,127\.0\.0\.1 ssh-ed25519 AAAA\S+$/);
    fs.writeFileSync(path.join(dir, "known_hosts"), line.replace(",127.0.0.1 ", `,[127.0.0.1]:${port} `) + "\n");
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    fs.writeFileSync(
      path.join(dir, "sshd_config"),
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(dir, "host_ed25519")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
      ].join("\n") + "\n",
    );
    sshd = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    sshd.stderr!.on("data", (d) => (log += d));
    expect(await listening(port), `sshd did not listen on 127.0.0.1:${port}: ${log}`).toBe(true);
    options = {
      user: os.userInfo().username,
      identityFile: path.join(dir, "user_ed25519"),
      knownHostsFile: path.join(dir, "known_hosts"),
      port,
    };
  });
  afterAll(() => {
    sshd?.kill("SIGTERM");
  });

  it("connects with the pinned key checked strictly, and a command with quotes and a pipe arrives intact", async () => {
    const result = await sshRemote(options).run(
      "127.0.0.1",
      `printf '%s\\n' "a b" 'c"d' | wc -l; echo "$((6 * 7))"`,
      20_000,
    );
    expect(result.stderr).not.toMatch(/Warning|Permanently added/);
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 0, stdout: "2\n42\n" });
  });

  it("refuses a VM that answers with another host key (a stale or forged VM), and says so", async () => {
    const other = keygen(path.join(dir, "other_ed25519"));
    const forged = path.join(dir, "known_hosts_forged");
    fs.writeFileSync(
      forged,
      knownHostsLine(plan, vm, other.publicKey).replace(",127.0.0.1 ", `,[127.0.0.1]:${port} `) + "\n",
    );
    const result = await sshRemote({ ...options, knownHostsFile: forged }).run("127.0.0.1", "true", 20_000);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it("refuses a host the stack's known_hosts does not list, instead of trusting it on first use", async () => {
    const empty = path.join(dir, "known_hosts_empty");
    fs.writeFileSync(empty, "");
    const result = await sshRemote({ ...options, knownHostsFile: empty }).run("127.0.0.1", "true", 20_000);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Host key verification failed|No .* host key is known/);
  });

  it("reports an unreachable VM with ssh's own reason, within the connect timeout", async () => {
    const closed = await freePort();
    const result = await sshRemote({ ...options, port: closed }).run("127.0.0.1", "true", 20_000);
    expect(result.code).toBe(255);
    expect(result.stderr).toMatch(/Connection refused/);
  });
});
