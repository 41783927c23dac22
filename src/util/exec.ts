// The result of running a command, as every runner in the code base reports it: the probe's executor, the
// libvirt, GPU and firewall providers' runners, and verify's remote shell. Types only: the providers are
// serialized by the engine, and a type import compiles away.

/** A finished command: its exit code (null when it could not run or was killed) and its output. */
export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
