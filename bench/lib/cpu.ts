/**
 * CPU time a process has used (user + system, all threads), from /proc/<pid>/stat. On a shared
 * machine throughput drifts with other tenants; CPU time per request barely does, so it is the
 * steadier way to compare what two Workers cost. Linux only: elsewhere it reports nothing.
 */
import { readFileSync } from "node:fs";

// USER_HZ is 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)); Node has no binding for it.
const TICKS_PER_SECOND = 100;

/** Milliseconds of CPU used by `pid` so far, or undefined when it cannot be read. */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
