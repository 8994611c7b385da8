/**
 * Two `eventail run` processes on one configuration whose default backing is a durable engine,
 * with a ContainerSource that emits by itself: each of its events names the Eventail process
 * that runs it (its parent), so the sink sees which processes emit.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { EventailProcess, stopEventailProcesses } from "../support/eventail-process.js";
import { eventually, type RecordingSink, startSink } from "../support/sink.js";

/** Posts every 200 ms; exits once its Eventail process is gone (it would go with its pod). */
export const BEAT = `const parent = process.ppid;
let n = 0;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
  n += 1;
  fetch(process.env.K_SINK, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": \`\${process.pid}-\${n}\`,
      "ce-source": \`eventail/\${parent}\`,
      "ce-type": "dev.example.beat",
    },
  }).catch(() => undefined);
}, 200);
`;

function manifests(backing: string, url: string, sink: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-br-defaults
  namespace: knative-eventing
data:
  default-br-config: |
    clusterDefault:
      apiVersion: v1
      kind: ConfigMap
      name: eventail-backing
      namespace: knative-eventing
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: eventail-backing
  namespace: knative-eventing
data:
  backing: ${backing}
  url: ${url}
---
${beatSource(sink)}`;
}

/** The ContainerSource running beat.mjs (written next to the manifests) into `sink`. */
export function beatSource(sink: string): string {
  return `apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: beat
  namespace: default
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: beat
          image: example/beat
          command: [node, beat.mjs]
  sink:
    uri: ${sink}
`;
}

/** The Eventail process (pid) behind each event the sink got, in arrival order. */
function emitters(sink: RecordingSink): number[] {
  return sink.events.map((event) => Number(String(event.attributes["source"]).split("/")[1]));
}

export async function twoProcessesEmitOnce(backing: string, url: string): Promise<void> {
  const sink = await startSink();
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-lease-"));
  try {
    writeFileSync(path.join(dir, "beat.mjs"), BEAT);
    writeFileSync(path.join(dir, "manifests.yaml"), manifests(backing, url, sink.url));
    const env = {
      EVENTAIL_LEASE_DURATION: "6",
      EVENTAIL_LEASE_NAME: `test-${randomBytes(4).toString("hex")}`,
    };
    const [first, second] = await Promise.all([
      EventailProcess.start("first", { manifests: [dir], env }),
      EventailProcess.start("second", { manifests: [dir], env }),
    ]);
    const processes = new Map([first, second].map((p) => [p.pid, p]));
    // Both are up: 15 beats (3 s) are plenty for the second one's source to show if it ran.
    await eventually(() => sink.events.length >= 15, 20_000, "15 beats");
    const before = new Set(emitters(sink));
    expect([...before].every((pid) => processes.has(pid))).toBe(true);
    expect(before.size, "processes emitting while both run").toBe(1);
    const leader = processes.get([...before][0]!)!;
    const follower = leader === first ? second : first;

    await leader.kill("SIGKILL");
    const seen = sink.events.length;
    await eventually(
      () => emitters(sink).filter((pid) => pid === follower.pid).length >= 10,
      30_000,
      "10 beats from the process left",
    );
    // Past the leader's last beats, only the process left emits.
    const after = emitters(sink).slice(seen);
    const firstFromFollower = after.indexOf(follower.pid);
    expect(new Set(after.slice(firstFromFollower))).toEqual(new Set([follower.pid]));
  } finally {
    await stopEventailProcesses();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function deployed(base: string, path: string): Promise<string | undefined> {
  const response = await fetch(`${base}/api/v1/resources/${path}`);
  const view = (await response.json()) as {
    status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
  };
  const condition = view.status?.conditions?.find((c) => c.type === "Deployed");
  return condition && `${condition.status}${condition.reason ? ` ${condition.reason}` : ""}`;
}

/**
 * An MqttSource and an MQTT MessageQueueTrigger hold a fixed client id's session: only the leader
 * runs them (two would take the session from each other endlessly); a Redis MessageQueueTrigger
 * beside them runs in both.
 */
export async function mqttOnLeaderOnly(backing: string, url: string, mqtt: string): Promise<void> {
  const sink = await startSink();
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-lease-"));
  const tag = randomBytes(4).toString("hex");
  try {
    const queueTrigger = (name: string, type: string, metadata: string) => `---
apiVersion: eventail.io/v1alpha1
kind: MessageQueueTrigger
metadata:
  name: ${name}
  namespace: default
spec:
  messageQueueType: ${type}
  topic: lease-${tag}-${name}
  contentType: text/plain
  metadata:
    ${metadata}
  subscriber:
    uri: ${sink.url}/${name}
`;
    writeFileSync(
      path.join(dir, "manifests.yaml"),
      `${manifests(backing, url, sink.url).split("---\napiVersion: sources.knative.dev/v1")[0]}---
apiVersion: eventail.io/v1alpha1
kind: MqttSource
metadata:
  name: sensors
  namespace: default
spec:
  brokerUrl: ${mqtt}
  topics: [lease/${tag}/#]
  clientId: eventail-lease-${tag}
  sink:
    uri: ${sink.url}/sensors
${queueTrigger("mqtt-orders", "mqtt", `brokerUrl: ${mqtt}\n    clientId: eventail-lease-mqt-${tag}`)}${queueTrigger("redis-orders", "redis", `address: ${new URL(url).host}`)}`,
    );
    const env = {
      EVENTAIL_LEASE_DURATION: "6",
      EVENTAIL_LEASE_NAME: `test-${tag}`,
    };
    const [first, second] = await Promise.all([
      EventailProcess.start("first", { manifests: [dir], env }),
      EventailProcess.start("second", { manifests: [dir], env }),
    ]);
    const states = async (resource: string) =>
      Promise.all([first, second].map((p) => deployed(p.url, resource)));
    for (const resource of [
      "mqttsources/default/sensors",
      "messagequeuetriggers/default/mqtt-orders",
    ]) {
      await eventually(
        async () => (await states(resource)).sort().join(", ") === "True, Unknown NotLeader",
        20_000,
        `${resource} on the leader only`,
      );
    }
    await eventually(
      async () =>
        (await states("messagequeuetriggers/default/redis-orders")).join(", ") === "True, True",
      20_000,
      "the Redis MessageQueueTrigger in both",
    );
  } finally {
    await stopEventailProcesses();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
