/**
 * Summarizes a V8 .cpuprofile (from `npm run bench -- --profile ID`): self time by function and
 * by where the code lives (a package, a src/ folder, Node's internals, GC).
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [top] [from-seconds]
 *
 * from-seconds skips the start of the profile (module loading, manifest parsing) so the summary
 * shows the steady state under load.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: node_modules/<package>, src/<folder>, node:internal, (gc) … */
function area(url: string, name: string): string {
  if (url === "") return name.startsWith("(") ? name : "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const own = /\/dist\/(src|bench)\/([^/]+)/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  return url;
}

export function summarize(profile: CpuProfile, top = 30, fromSeconds = 0): string {
  const selfUs = new Map<number, number>();
  let at = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromSeconds * 1e6) continue;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^.*\/(node_modules|dist)\//, "");
    const key = `${functionName || "(anonymous)"}  ${file}${url ? `:${lineNumber + 1}` : ""}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const where = area(url, functionName);
    byArea.set(where, (byArea.get(where) ?? 0) + us);
  }
  // Inclusive time of our own functions (src/): what each step costs with everything it calls.
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusive = new Map<string, number>();
  const walk = (id: number, open: Set<string>): number => {
    const node = nodes.get(id)!;
    let us = selfUs.get(id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    const own = /\/dist\/src\//.test(url);
    const key = `${functionName || "(anonymous)"}  ${url.replace(/^.*\/dist\//, "")}:${lineNumber + 1}`;
    const counted = own && !open.has(key);
    if (counted) open.add(key);
    for (const child of node.children ?? []) us += walk(child, open);
    if (counted) {
      open.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
    return us;
  };
  walk(profile.nodes[0]!.id, new Set());
  const idle = byFunction.get("(idle)  ") ?? 0;
  const busy = total - idle;
  const table = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .filter(([key]) => !key.startsWith("(idle)"))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`)
      .join("\n");
  return [
    `${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy; shares of busy time`,
    "",
    "by area:",
    table(byArea, 20),
    "",
    "by function (self time):",
    table(byFunction, top),
    "",
    "own functions (src/), inclusive of what they call:",
    table(inclusive, top),
  ].join("\n");
}

const file = process.argv[2];
if (file !== undefined && process.argv[1]?.endsWith("profile-summary.js")) {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  process.stdout.write(
    `${summarize(profile, Number(process.argv[3] ?? 30), Number(process.argv[4] ?? 0))}\n`,
  );
}
