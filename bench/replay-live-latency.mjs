// Live delivery latency on a memory broker with and without a replay of PREFILL (default
// 100,000) events into another trigger (CONTRACT §11, issue 18). Run after `npm run build`:
//   node bench/replay-live-latency.mjs

import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, request } from "undici";
import { silentLogger } from "../dist/src/observability/logger.js";
import { startEventail } from "../dist/src/runtime/eventail.js";

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
const sent = new Map();
const latencies = [];
let bulkCount = 0;
const live = await sink((h) => {
  const t = sent.get(h["ce-id"]);
  if (t !== undefined && h["ce-eventailreplay"] === undefined) {
    latencies.push(performance.now() - t);
    sent.delete(h["ce-id"]);
  }
});
const bulk = await sink(() => {
  bulkCount++;
});
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

async function livePhase(tag) {
  latencies.length = 0;
  const start = performance.now();
  const pending = [];
  for (let i = 0; i < LIVE; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `${tag}-${i}`;
    sent.set(id, performance.now());
    pending.push(post(id, "live"));
  }
  await Promise.all(pending);
  while (latencies.length < LIVE) await new Promise((r) => setTimeout(r, 20));
  const sorted = [...latencies].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(2);
  return { p50: q(0.5), p99: q(0.99), max: sorted.at(-1).toFixed(1) };
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
  if (status.state !== "running") break;
  await new Promise((r) => setTimeout(r, 100));
}
const replayS = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    prefill: PREFILL,
    live: LIVE,
    rate: RATE,
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
bulk.server.close();
await agent.close();
process.exit(0);
