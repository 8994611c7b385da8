/**
 * Micro-benchmark of the CESQL filter path: `matches()` of a typical trigger filter over a small
 * rotating set of events. Run: `npx tsc -p tsconfig.build.json && node dist/bench/cesql.js`.
 */
import { pathToFileURL } from "node:url";
import { compile } from "../src/triggers/cesql/index.js";

export const BENCH_EXPRESSION =
  "type = 'com.example.order' AND source LIKE '/shop/%' AND EXISTS region";

const EVENTS: ReadonlyArray<Readonly<Record<string, string | number | boolean>>> = [
  { specversion: "1.0", id: "1", type: "com.example.order", source: "/shop/eu", region: "eu" },
  { specversion: "1.0", id: "2", type: "com.example.order", source: "/shop/us" },
  { specversion: "1.0", id: "3", type: "com.example.refund", source: "/shop/eu", region: "eu" },
  { specversion: "1.0", id: "4", type: "com.example.order", source: "/warehouse/1", region: "us" },
  {
    specversion: "1.0",
    id: "5",
    type: "com.example.order",
    source: "/shop/asia",
    region: "ap",
    priority: 3,
  },
  {
    specversion: "1.0",
    id: "6",
    type: "com.example.order",
    source: "/shop/eu",
    region: "eu",
    express: true,
  },
  { specversion: "1.0", id: "7", type: "com.example.ping", source: "/monitor" },
  { specversion: "1.0", id: "8", type: "com.example.order", source: "/shop/", region: "" },
];

/**
 * Times `matches()` for about `durationMs` and reports the wall-clock rate, plus the rate per second
 * of CPU time, which stays meaningful when other processes compete for the cores.
 */
export async function benchCesql(
  durationMs: number,
): Promise<{ evaluationsPerSecond: number; cpuEvaluationsPerSecond: number }> {
  const compiled = compile(BENCH_EXPRESSION);
  if (!compiled.ok) throw new Error(compiled.error.message);
  const program = compiled.program;
  const batch = 100_000;
  let matched = 0;
  // Warm up so that the measured loop runs optimized code.
  for (let i = 0; i < batch; i++) if (program.matches(EVENTS[i & 7]!)) matched++;
  await Promise.resolve();

  let evaluations = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(durationMs * 1e6));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) if (program.matches(EVENTS[i & 7]!)) matched++;
    evaluations += batch;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // 4 of the 8 events match; checking it keeps the loop from being optimized away.
  if (matched !== ((batch + evaluations) / 8) * 4)
    throw new Error(`unexpected match count ${matched}`);
  return {
    evaluationsPerSecond: Math.round(evaluations / seconds),
    cpuEvaluationsPerSecond: Math.round(evaluations / cpuSeconds),
  };
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const { evaluationsPerSecond, cpuEvaluationsPerSecond } = await benchCesql(2000);
  const perCpu = cpuEvaluationsPerSecond.toLocaleString("en-US");
  console.log(
    `cesql: ${evaluationsPerSecond.toLocaleString("en-US")} evaluations/s (${perCpu} per CPU-second)`,
  );
}
