import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchManifests } from "../../src/resources/watch.js";

const BROKER = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: b\n";
/** Longer than the debounce plus inotify's delivery delay on a busy machine. */
const SETTLE_MS = 600;

let dir: string;
let watcher: { close(): void } | undefined;
let calls: number;

function start(paths: string[]): void {
  calls = 0;
  watcher = watchManifests(paths, () => {
    calls++;
  });
}

async function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the watcher");
    await sleep(20);
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "eventail-watch-"));
  writeFileSync(path.join(dir, "broker.yaml"), BROKER);
});

afterEach(() => {
  watcher?.close();
  watcher = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("watchManifests", () => {
  it("fires once for a burst of writes (debounced)", async () => {
    start([dir]);
    // One synchronous burst: its events are all queued before any timer can run, however busy
    // the machine, so only the debounce decides how many times the watcher fires. Different
    // files, because the kernel merges repeated identical events on one file by itself.
    for (let i = 0; i < 5; i++) {
      writeFileSync(path.join(dir, `edit-${i}.yaml`), `${BROKER}# edit ${i}\n`);
      writeFileSync(path.join(dir, "broker.yaml"), `${BROKER}# edit ${i}\n`);
    }
    await until(() => calls > 0);
    await sleep(SETTLE_MS);
    expect(calls).toBe(1);
  });

  it.each([
    [
      "an editor saves by writing a temporary file and renaming it over the manifest",
      () => {
        writeFileSync(path.join(dir, ".broker.yaml.tmp"), `${BROKER}# saved\n`);
        renameSync(path.join(dir, ".broker.yaml.tmp"), path.join(dir, "broker.yaml"));
      },
    ],
    ["a manifest is created", () => writeFileSync(path.join(dir, "trigger.yml"), BROKER)],
    ["a manifest is deleted", () => rmSync(path.join(dir, "broker.yaml"))],
    [
      "a manifest in an existing subdirectory changes",
      () => writeFileSync(path.join(dir, "sub", "x.json"), "{}"),
    ],
  ])("fires when %s", async (_what, act) => {
    mkdirSync(path.join(dir, "sub"));
    start([dir]);
    act();
    await until(() => calls > 0);
    await sleep(SETTLE_MS);
    expect(calls).toBe(1);
  });

  it("watches a subdirectory created after it started", async () => {
    start([dir]);
    mkdirSync(path.join(dir, "later"));
    await until(() => calls === 1);
    writeFileSync(path.join(dir, "later", "trigger.yaml"), BROKER);
    await until(() => calls === 2);
  });

  it("ignores files that are not manifests (editor swap files, notes)", async () => {
    start([dir]);
    writeFileSync(path.join(dir, ".broker.yaml.swp"), "x");
    writeFileSync(path.join(dir, "notes.txt"), "x");
    await sleep(SETTLE_MS);
    expect(calls).toBe(0);
  });

  it("watching one file fires for that file only, even when it is replaced", async () => {
    writeFileSync(path.join(dir, "other.yaml"), BROKER);
    start([path.join(dir, "broker.yaml")]);
    writeFileSync(path.join(dir, "other.yaml"), `${BROKER}# other\n`);
    await sleep(SETTLE_MS);
    expect(calls).toBe(0);
    writeFileSync(path.join(dir, "new.tmp"), `${BROKER}# replaced\n`);
    renameSync(path.join(dir, "new.tmp"), path.join(dir, "broker.yaml"));
    await until(() => calls === 1);
    writeFileSync(path.join(dir, "broker.yaml"), `${BROKER}# edited after the replace\n`);
    await until(() => calls === 2);
  });

  it("stops firing once closed", async () => {
    start([dir]);
    watcher!.close();
    writeFileSync(path.join(dir, "broker.yaml"), `${BROKER}# after close\n`);
    await sleep(SETTLE_MS);
    expect(calls).toBe(0);
  });
});
