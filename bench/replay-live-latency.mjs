// Live delivery latency on a memory broker with and without a replay of PREFILL (default
// 100,000) events into another trigger (CONTRACT §11, issue 18). Run after `npm run build`:
//   node bench/replay-live-latency.mjs
// EVENTAIL_DIST=/other/worktree/dist measures another build (A/B); REPLAY_WAIT=0 stops once the
// live phase during the replay is measured instead of waiting for the whole replay.
// The replay's sink runs in a child process: in this process its HTTP server would take event
// loop time from the live probe and count as Eventail's cost.

import { fork } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Agent, request } from "undici";

const PREFILL = Number(process.env.PREFILL ?? 100000);
const LIVE = 2000;
const RATE = 200; // live events per second

function sink(onEvent) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      onEvent(req.headers);
      res.writeHead(202);
      res.end();
    });
  });
  server.keepAliveTimeout = 60000;
  return new Promise((r) =>
    server.listen(0, "127.0.0.1", () =>
      r({ server, url: `http://127.0.0.1:${server.address().port}` }),
    ),
  );
}
if (process.argv[2] === "bulk-sink") {
  // Child: counts what it receives and tells the parent now and then.
  let count = 0;
  let told = -1;
  const { url } = await sink(() => {
    count++;
  });
  process.send({ url });
  setInterval(() => {
    if (count === told) return;
    told = count;
    process.send({ count });
  }, 20);
  process.on("disconnect", () => process.exit(0));
} else {
  await main();
}

async function main() {
  const dist = process.env.EVENTAIL_DIST ?? fileURLToPath(new URL("../dist", import.meta.url));
  const { silentLogger } = await import(pathToFileURL(`${dist}/src/observability/logger.js`).href);
  const { startEventail } = await import(pathToFileURL(`${dist}/src/runtime/eventail.js`).href);
  const sent = new Map();
  const latencies = [];
  // CPU this process spent while each live event was on its way (ms): what it waited behind,
  // without the time other processes on a shared machine took the core (wall p99 moves with those).
  const cpuWaits = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let bulkCount = 0;
  const live = await sink((h) => {
    const t = sent.get(h["ce-id"]);
    if (t !== undefined && h["ce-eventailreplay"] === undefined) {
      latencies.push(performance.now() - t.at);
      cpuWaits.push(cpuNow() - t.cpu);
      sent.delete(h["ce-id"]);
    }
  });
  const bulkChild = fork(fileURLToPath(import.meta.url), ["bulk-sink"]);
  const bulk = await new Promise((r) =>
    bulkChild.on("message", (m) => {
      if (m.url !== undefined) r({ url: m.url });
      if (m.count !== undefined) bulkCount = m.count;
    }),
  );
  const dir = mkdtempSync(path.join(tmpdir(), "replay-measure-"));
  writeFileSync(
    path.join(dir, "m.yaml"),
    `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
  annotations:
    eventail.io/retention: PT1H
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: live, namespace: default}
spec: {broker: default, filter: {attributes: {type: live}}, subscriber: {uri: "${live.url}"}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: bulk, namespace: default}
spec: {broker: default, subscriber: {uri: "${bulk.url}"}}
`,
  );
  const running = await startEventail({
    paths: [dir],
    port: 0,
    logger: silentLogger(),
    watch: false,
  });
  const agent = new Agent({ connections: 64 });
  const ingress = `${running.url}/default/default`;
  async function post(id, type) {
    const r = await request(ingress, {
      method: "POST",
      dispatcher: agent,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": id,
        "ce-source": "/m",
        "ce-type": type,
        "content-type": "application/json",
      },
      body: "{}",
    });
    await r.body.dump();
    if (r.statusCode !== 202) throw new Error(`ingress ${r.statusCode}`);
  }
  const from = new Date().toISOString();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < PREFILL) await post(`b-${next++}`, "bulk");
    }),
  );
  while (bulkCount < PREFILL) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 20));
  const to = new Date().toISOString();

  const loop = monitorEventLoopDelay({ resolution: 1 });
  async function livePhase(tag) {
    latencies.length = 0;
    cpuWaits.length = 0;
    loop.reset();
    loop.enable();
    const start = performance.now();
    const pending = [];
    for (let i = 0; i < LIVE; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const id = `${tag}-${i}`;
      sent.set(id, { at: performance.now(), cpu: cpuNow() });
      pending.push(post(id, "live"));
    }
    await Promise.all(pending);
    while (latencies.length < LIVE) await new Promise((r) => setTimeout(r, 20));
    loop.disable();
    const loopP99 = (loop.percentile(99) / 1e6).toFixed(2);
    const sorted = [...latencies].sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(2);
    const cpu = [...cpuWaits].sort((a, b) => a - b);
    const cpuP99 = cpu[Math.floor(0.99 * cpu.length)].toFixed(2);
    return { p50: q(0.5), p99: q(0.99), max: sorted.at(-1).toFixed(1), loopP99, cpuP99 };
  }
  const baseline = await livePhase("base");
  const t0 = performance.now();
  const started = await request(`${running.url}/api/v1/replay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ namespace: "default", broker: "default", from, to, trigger: "bulk" }),
  });
  const { id } = await started.body.json();
  const during = await livePhase("during");
  let status;
  for (;;) {
    status = await (await request(`${running.url}/api/v1/replay/${id}`)).body.json();
    if (status.state !== "running" || process.env.REPLAY_WAIT === "0") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const replayS = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      prefill: PREFILL,
      live: LIVE,
      rate: RATE,
      ratio: (Number(during.p99) / Number(baseline.p99)).toFixed(2),
      cpuRatio: (Number(during.cpuP99) / Number(baseline.cpuP99)).toFixed(2),
      baseline,
      duringReplay: during,
      replay: {
        ...status,
        seconds: replayS.toFixed(1),
        perSecond: Math.round(status.sent / replayS),
      },
    }),
  );
  await running.close();
  live.server.close();
  bulkChild.disconnect();
  await agent.close();
  process.exit(0);
}
