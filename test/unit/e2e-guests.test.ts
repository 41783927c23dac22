// The bring-up test's diagnosis of a failed boot: which module failed, from lines cloud-init 22.4 really
// printed (captured from the serial logs of failed runs here).
import { describe, expect, it } from "vitest";
import { failedModules, serialFailures } from "../e2e/guests";

const LOCALE_FAILURE = [
  "[  150.602873] cloud-init[446]: *** update-locale: Error: invalid locale settings:  LANG=en_US.UTF-8",
  "[  150.620926] cloud-init[446]: 2026-12-01 15:07:40,524 - util.py[WARNING]: Running module locale (<module " +
    "'cloudinit.config.cc_locale' from '/usr/lib/python3/dist-packages/cloudinit/config/cc_locale.py'>) failed",
].join("\n");

const NETWORK_FAILURE = [
  "[   86.347710] cloud-init[320]: 2026-12-01 15:10:30,668 - network_state.py[ERROR]: Address default is not a " +
    "valid ip network",
  "[   86.433403] cloud-init[320]: 2026-12-01 15:10:30,681 - util.py[WARNING]: failed stage init-local",
  "[   86.613472] cloud-init[320]: failed run of stage init-local",
  "[   86.702257] cloud-init[320]: Traceback (most recent call last):",
].join("\n");

describe("e2e boot diagnosis", () => {
  it("names the failing module from cloud-init's log lines", () => {
    expect(failedModules(LOCALE_FAILURE)).toContain("locale");
    expect(failedModules("status: done\n")).toEqual([]);
  });

  it("picks the failure lines out of a serial log", () => {
    expect(serialFailures(`[    1.0] Linux version 6.1\n${LOCALE_FAILURE}\nlogin:`)).toEqual([
      expect.stringContaining("Running module locale"),
    ]);
    expect(serialFailures(NETWORK_FAILURE)).toEqual([
      expect.stringContaining("Address default is not a valid ip network"),
      expect.stringContaining("failed run of stage init-local"),
      expect.stringContaining("Traceback"),
    ]);
  });
});
