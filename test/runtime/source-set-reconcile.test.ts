import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

/**
 * Posts its start to K_SINK once it handles SIGTERM. On SIGTERM: marks `term-$NAME-$VERSION`,
 * waits for `term-$PEER-$VERSION` (its peer's SIGTERM), then marks `clean-$NAME-$VERSION` and
 * exits. Stopped one after the other, the first one stopped never sees its peer's mark and is
 * killed at the end of its grace period.
 */
const PEER = `
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
const { MARKS, NAME, PEER, VERSION } = process.env;
process.on("SIGTERM", () => {
  writeFileSync(path.join(MARKS, \`term-\${NAME}-\${VERSION}\`), "");
  const wait = setInterval(() => {
    if (!existsSync(path.join(MARKS, \`term-\${PEER}-\${VERSION}\`))) return;
    clearInterval(wait);
    writeFileSync(path.join(MARKS, \`clean-\${NAME}-\${VERSION}\`), "");
    process.exit(0);
  }, 20);
});
// Says it is ready for SIGTERM.
await fetch(process.env.K_SINK, { method: "POST", headers: { "ce-specversion": "1.0",
  "ce-id": \`\${NAME}-\${VERSION}\`, "ce-source": "/peer", "ce-type": "dev.example.started" } });
setInterval(() => {}, 1 << 30);
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function containerSource(
  name: string,
  peer: string,
  version: number,
  script: string,
  marks: string,
  sink: RecordingSink,
): string {
  return `---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: ${name}
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 5
      containers:
        - name: peer
          image: ignored/standalone
          command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}]
          env:
            - { name: MARKS, value: ${JSON.stringify(marks)} }
            - { name: NAME, value: ${name} }
            - { name: PEER, value: ${peer} }
            - { name: VERSION, value: "${version}" }
  sink:
    uri: ${sink.url}
`;
}

describe("reconciling sources", () => {
  it("stops the sources that changed together, so none waits for another's stop", async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const running = await startWithManifests("");
    cleanups.push(() => running.close());
    const script = path.join(running.dir, "peer.mjs");
    writeFileSync(script, PEER);
    const write = (version: number) =>
      writeFileSync(
        running.file,
        containerSource("left", "right", version, script, running.dir, sink) +
          containerSource("right", "left", version, script, running.dir, sink),
      );
    const mark = (name: string) => existsSync(path.join(running.dir, name));

    write(1);
    expect(await running.reload()).toEqual([]);
    // Both processes must have their SIGTERM handler before the change stops them.
    await eventually(() => sink.events.length === 2, 10_000, "both processes");
    write(2);
    expect(await running.reload()).toEqual([]);
    // The reconcile has stopped both version-1 processes when reload resolves.
    expect(mark("term-left-1") && mark("term-right-1")).toBe(true);
    expect([mark("clean-left-1"), mark("clean-right-1")]).toEqual([true, true]);
  }, 30_000);
});
