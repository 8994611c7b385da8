// CPU per event of one Redis-backed subscription, in this process (issue 22: before/after the
// notifier). Compare two builds on a shared machine by CPU µs/event, not events/s:
//   [DEDICATED_READERS=0] node bench/redis-subscription-cpu.mjs [repo root with dist/]
// serial: publish one event, wait for its delivery, repeat (every event wakes an idle trigger);
// burst: 20,000 events published 20 per XADD batch, 50 batches in flight.

import { randomBytes } from "node:crypto";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

const root = path.resolve(process.argv[2] ?? ".");
const load = (file) => import(pathToFileURL(path.join(root, file)).href);
const { createBacking } = await load("dist/src/backing/redis/index.js");
const { silentLogger } = await load("dist/src/observability/logger.js");
const { createEvent } = await load("dist/src/events/event.js");
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

// DEDICATED_READERS=0 measures the shared-notifier path (older builds ignore the key).
const readers = process.env.DEDICATED_READERS;
const settings = { url, ...(readers === undefined ? {} : { dedicatedReaders: readers }) };
const backing = await createBacking({ kind: "redis", settings }, { logger: silentLogger() });
const stream = `bench.cpu.${randomBytes(4).toString("hex")}`;
let delivered = 0;
let onDelivery;
const subscription = await backing.subscribe(
  stream,
  "trigger.bench.cpu",
  async () => {
    delivered++;
    onDelivery?.();
  },
  { concurrency: 32, ordered: false },
);
let next = 0;
const event = () =>
  createEvent(
    { specversion: "1.0", id: `e${next++}`, source: "/bench", type: "bench.cpu" },
    Buffer.from(JSON.stringify({ pad: "x".repeat(200) })),
  );
const cpuUs = (since) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

async function serial(count) {
  const latencies = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const done = new Promise((resolve) => {
      onDelivery = resolve;
    });
    await backing.publish(stream, [event()]);
    await done;
    latencies.push(performance.now() - started);
  }
  onDelivery = undefined;
  return latencies.sort((a, b) => a - b);
}

await serial(200);
let cpu = process.cpuUsage();
const latencies = await serial(2000);
const at = (q) => latencies[Math.floor(q * (latencies.length - 1))].toFixed(2);
console.log(
  `serial: ${(cpuUs(cpu) / 2000).toFixed(0)} µs CPU/event, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
);

const target = delivered + 20_000;
cpu = process.cpuUsage();
const inFlight = [];
for (let batch = 0; batch < 1000; batch++) {
  inFlight.push(backing.publish(stream, Array.from({ length: 20 }, event)));
  if (inFlight.length >= 50) await Promise.all(inFlight.splice(0));
}
await Promise.all(inFlight);
while (delivered < target) await new Promise((resolve) => setTimeout(resolve, 5));
console.log(`burst: ${(cpuUs(cpu) / 20_000).toFixed(1)} µs CPU/event`);

await subscription.close();
await backing.removeStream(stream);
await backing.close();
