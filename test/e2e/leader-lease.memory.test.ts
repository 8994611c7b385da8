/**
 * Without a shared engine there is no lease and the lone process always leads: a reload must not
 * stop and restart its leader-only sources (it once did on every reload, even of an unrelated
 * file, since no engine was remembered to compare the reloaded configuration's with).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { eventually, startSink } from "../support/sink.js";
import { BEAT, beatSource } from "./leader-lease-scenario.js";

afterEach(() => stopEventailProcesses());

describe.skipIf(!eventailBuilt())("eventail run in memory: leader-only sources", () => {
  it("a reload of an unrelated resource keeps the ContainerSource's process running", async () => {
    const sink = await startSink();
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-lease-"));
    try {
      writeFileSync(path.join(dir, "beat.mjs"), BEAT);
      writeFileSync(path.join(dir, "source.yaml"), beatSource(sink.url));
      const eventail = await EventailProcess.start("memory", { manifests: [dir] });
      // The container's pid is the first part of each beat's id.
      const containers = () =>
        new Set(sink.events.map((event) => String(event.attributes["id"]).split("-")[0]));
      await eventually(() => sink.events.length >= 3, 20_000, "3 beats");
      expect(containers().size).toBe(1);

      writeFileSync(
        path.join(dir, "unrelated.yaml"),
        `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: unrelated
  namespace: default
`,
      );
      await eventually(
        async () => (await fetch(`${eventail.url}/api/v1/resources/brokers/default/unrelated`)).ok,
        20_000,
        "the reload",
      );
      const seen = sink.events.length;
      await eventually(() => sink.events.length >= seen + 10, 20_000, "10 beats after the reload");
      expect(containers().size, "container processes across the reload").toBe(1);
    } finally {
      await stopEventailProcesses();
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
