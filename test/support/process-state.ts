import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, … */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The one-letter state in /proc/<pid>/stat ("T" once stopped), undefined once it is gone. */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/**
 * SIGSTOP lands asynchronously: until every process of the group shows "T", a server may still
 * answer a request sent right after kill(). Waits (bounded) until the whole group is stopped.
 */
export async function waitUntilStopped(pids: () => number[], timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const states = pids().map(processState);
    if (states.every((state) => state === undefined || state === "T")) return;
    await sleep(5);
  }
  throw new Error("the engine did not stop within the bound after SIGSTOP");
}

/** Every live process whose process group is `group` (Linux /proc). */
export function processGroup(group: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields?.[2] === String(group)) members.push(Number(entry));
  }
  return members;
}
