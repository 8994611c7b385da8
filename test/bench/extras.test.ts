import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { median, spread } from "../../bench/extras/format.js";
import { manyTopology, perBroker } from "../../bench/extras/many-resources.js";
import { extraRows } from "../../bench/extras/report.js";
import { parseWrkOutput, WRK, wrkScript } from "../../bench/extras/wrk.js";
import { parseManifests } from "../../src/resources/loader.js";

/** The pieces of issue 22's extra bench measurements that can be checked without a bench run. */

const run = promisify(execFile);
// CI installs wrk (.ci/run); elsewhere the test says it skipped.
const haveWrk = existsSync(WRK) || process.env["CI"] === "true";

describe("bench extras", () => {
  it.skipIf(!haveWrk)(
    "the wrk script posts binary-mode CloudEvents with unique ids and counts exactly the 202s",
    async () => {
      const ids = new Set<string>();
      let duplicates = 0;
      let answered202 = 0;
      let answeredOther = 0;
      let missingAttributes = 0;
      const server = http.createServer((request, response) => {
        const id = String(request.headers["ce-id"]);
        if (ids.has(id)) duplicates++;
        ids.add(id);
        if (
          request.method !== "POST" ||
          request.headers["ce-specversion"] !== "1.0" ||
          request.headers["ce-type"] === undefined ||
          request.headers["ce-benchphase"] !== "test-phase"
        ) {
          missingAttributes++;
        }
        request.resume();
        request.on("end", () => {
          // Every third request is refused, so the count cannot be "every request".
          const accept = ids.size % 3 !== 0;
          if (accept) answered202++;
          else answeredOther++;
          response.writeHead(accept ? 202 : 400, { "content-length": "0" }).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const dir = mkdtempSync(path.join(tmpdir(), "wrk-test-"));
      try {
        const script = path.join(dir, "post.lua");
        writeFileSync(script, wrkScript("test-phase"));
        const { port } = server.address() as AddressInfo;
        const { stdout } = await run(WRK, [
          "-t2",
          "-c4",
          "-d1s",
          "-s",
          script,
          `http://127.0.0.1:${port}/ns/default`,
        ]);
        const counts = parseWrkOutput(stdout);
        expect(counts).toBeDefined();
        // wrk stops at -d with up to one request per connection (4) answered but not read.
        expect(counts!.accepted).toBeLessThanOrEqual(answered202);
        expect(counts!.accepted).toBeGreaterThanOrEqual(answered202 - 4);
        expect(counts!.other).toBeLessThanOrEqual(answeredOther);
        expect(counts!.other).toBeGreaterThanOrEqual(answeredOther - 4);
        expect(answered202).toBeGreaterThan(0);
        expect(duplicates).toBe(0);
        expect(missingAttributes).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );

  it("parses wrk's summary line and nothing else", () => {
    expect(parseWrkOutput("Requests/sec: 10\nEVENTAIL_WRK accepted=12 other=3 errors=1\n")).toEqual(
      { accepted: 12, other: 3, errors: 1 },
    );
    expect(parseWrkOutput("Requests/sec: 10\n")).toBeUndefined();
  });

  it("writes brokers × triggers that Eventail's loader accepts, each trigger on its own sink path", () => {
    const text = manyTopology("bench-many-test", 3, 2, "http://127.0.0.1:9/", {
      kind: "redis",
      url: "redis://127.0.0.1:6379",
    });
    const { resources, issues } = parseManifests(text, "topology.yaml");
    expect(issues.filter((issue) => issue.severity !== "warning")).toEqual([]);
    expect(resources.filter((r) => r.kind === "Broker").map((r) => r.metadata.name)).toEqual([
      "b0",
      "b1",
      "b2",
    ]);
    const triggers = resources.filter((r) => r.kind === "Trigger");
    expect(triggers).toHaveLength(6);
    expect(new Set(triggers.map((t) => JSON.stringify(t.spec))).size).toBe(6);
  });

  it("adds each broker's triggers' deliveries and divides by triggers and seconds", () => {
    const counts = { "/t/b0.0": 10, "/t/b0.1": 10, "/t/b1.0": 4, "/t/b1.1": 6, "/other": 99 };
    // Broker 2 delivered nothing: it must show as 0, not be left out of the spread.
    const rates = perBroker(counts, 3, 2, 2);
    expect(rates).toEqual([5, 2.5, 0]);
    expect(spread(rates)).toEqual({ min: 0, median: 2.5, max: 5 });
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("shows a failed or skipped measurement as one row saying why", () => {
    const rows = extraRows([
      { id: "a", title: "A", rows: [], failed: "boom", problems: [] },
      {
        id: "b",
        title: "B",
        rows: [
          { what: "x", figure: "1 ms", goal: { text: "≤ 2 ms", met: true } },
          { what: "y", figure: "2", baseline: "4", ratio: "0.50×" },
        ],
        problems: [],
      },
    ]);
    expect(rows).toEqual([
      ["A", "failed: boom", "", "", "", ""],
      ["B", "x", "1 ms", "", "", "≤ 2 ms: met"],
      ["", "y", "2", "4", "0.50×", ""],
    ]);
  });
});
