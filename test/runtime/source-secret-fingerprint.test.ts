import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

/** Posts one event carrying its pid and $GREETING (from the source's own Secret), then idles. */
const EMITTER = `
await fetch(process.env.K_SINK, { method: "POST", headers: { "ce-specversion": "1.0",
  "ce-id": String(process.pid), "ce-source": "/emitter", "ce-type": "dev.example.started",
  "content-type": "application/json" },
  body: JSON.stringify({ pid: process.pid, greeting: process.env.GREETING }) });
setInterval(() => {}, 1 << 30);
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function secret(name: string, value: string): string {
  return `---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
stringData:
  value: ${value}
`;
}

function manifests(sink: RecordingSink, script: string, secrets: string): string {
  return `${secrets}---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: emitter
spec:
  template:
    spec:
      containers:
        - name: emitter
          image: ignored/standalone
          command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}]
          env:
            - name: GREETING
              valueFrom:
                secretKeyRef: { name: greeting, key: value }
  sink:
    uri: ${sink.url}
`;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const started = (sink: RecordingSink) =>
  sink.events.map((e) => JSON.parse(String(e.data)) as { pid: number; greeting: string });

describe("a source's fingerprint and the Secrets of its namespace", () => {
  it("keeps running when an unrelated Secret is added or edited, restarts when its own changes", async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const running = await startWithManifests("");
    cleanups.push(() => running.close());
    const script = path.join(running.dir, "emitter.mjs");
    writeFileSync(script, EMITTER);
    const write = (secrets: string) =>
      writeFileSync(running.file, manifests(sink, script, secrets));

    write(secret("greeting", "hello"));
    expect(await running.reload()).toEqual([]);
    await eventually(() => started(sink).length === 1, 10_000, "the process's first event");
    const first = started(sink)[0];
    expect(first?.greeting).toBe("hello");
    const pid = first?.pid as number;

    // An unrelated Secret appears, then changes: the reconcile it causes has run when reload
    // resolves, and a restart would have stopped (killed) the process by then.
    write(`${secret("greeting", "hello")}${secret("unrelated", "one")}`);
    expect(await running.reload()).toEqual([]);
    expect(alive(pid)).toBe(true);
    write(`${secret("greeting", "hello")}${secret("unrelated", "two")}`);
    expect(await running.reload()).toEqual([]);
    expect(alive(pid)).toBe(true);
    expect(started(sink).map((s) => s.pid)).toEqual([pid]);

    // Its own Secret changes: a new process, with the new value.
    write(`${secret("greeting", "bonjour")}${secret("unrelated", "two")}`);
    expect(await running.reload()).toEqual([]);
    await eventually(() => started(sink).length === 2, 10_000, "the restarted process's event");
    expect(started(sink)[1]?.greeting).toBe("bonjour");
    expect(started(sink)[1]?.pid).not.toBe(pid);
    expect(alive(pid)).toBe(false);
  });
});
