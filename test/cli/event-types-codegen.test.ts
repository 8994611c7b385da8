import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { codegenCommand } from "../../src/cli/event-types.js";
import { getCommand } from "../../src/cli/get.js";
import { startWithManifests } from "../support/sink.js";

const run = promisify(execFile);
const TSC = path.resolve("node_modules/typescript/bin/tsc");

const MANIFESTS = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
  eventtype-auto-create: enabled
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: order-created
  namespace: default
spec:
  broker: default
  type: com.example.order.created
  source: /shop
  schemaData: '{"type":"object","required":["id","status"],"properties":{"id":{"type":"string"},"status":{"enum":["open","paid"]},"note":{"type":["string","null"]}}}'
`;

/** What a verb writes to stdout while it runs. */
async function stdoutOf(verb: () => Promise<number>): Promise<{ code: number; text: string }> {
  let text = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    text += String(chunk);
    return true;
  });
  try {
    return { code: await verb(), text };
  } finally {
    spy.mockRestore();
  }
}

async function tsc(dir: string, files: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    await run(process.execPath, [
      TSC,
      "--noEmit",
      "--strict",
      "--target",
      "es2022",
      "--module",
      "nodenext",
      ...files.map((f) => path.join(dir, f)),
    ]);
    return { ok: true, output: "" };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("eventail eventtypes codegen --lang typescript, and get eventtypes", () => {
  let eventail: Awaited<ReturnType<typeof startWithManifests>>;

  beforeAll(async () => {
    eventail = await startWithManifests(MANIFESTS);
    for (const [i, data] of [
      { sku: "a1", qty: 2, at: "2026-12-07T03:50:57Z" },
      { sku: "b2", qty: 1, at: "2026-12-07T03:51:00Z", gift: true },
    ].entries()) {
      const response = await request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: {
          "ce-specversion": "1.0",
          "ce-id": `p${i}`,
          "ce-source": "/warehouse",
          "ce-type": "com.example.item.picked",
          "content-type": "application/json",
        },
        body: JSON.stringify(data),
      });
      expect(response.statusCode).toBe(202);
      await response.body.dump();
    }
  });
  afterAll(async () => {
    await eventail?.close();
  });

  it("prints types a handler type-checks against, and a wrong field does not compile", async () => {
    const { code, text } = await stdoutOf(() => codegenCommand({ server: eventail.url }));
    expect(code).toBe(0);
    expect(text).toContain("ComExampleItemPickedData");
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-codegen-"));
    writeFileSync(path.join(dir, "events.ts"), text);
    const handler = (body: string) => `import type { AnyCloudEvent } from "./events.js";
export function handle(event: AnyCloudEvent): string {
  switch (event.type) {
    case "com.example.item.picked": {
${body}
    }
    case "com.example.order.created":
      return event.data.status === "paid" ? event.data.id : (event.data.note ?? "");
  }
}
`;
    writeFileSync(
      path.join(dir, "good.ts"),
      handler(
        "      return [event.data.sku, event.data.qty * 2, event.data.at, event.data.gift ?? false].join(' ');",
      ),
    );
    writeFileSync(path.join(dir, "wrong-field.ts"), handler("      return event.data.colour;"));
    writeFileSync(
      path.join(dir, "optional.ts"),
      handler("      return String(event.data.gift.valueOf());"),
    );
    // One tsc run over the three handlers (each run costs seconds); errors name their file.
    const { ok, output } = await tsc(dir, ["good.ts", "wrong-field.ts", "optional.ts"]);
    expect(ok).toBe(false);
    expect(output).not.toContain("good.ts");
    expect(output).not.toContain("events.ts");
    expect(output).toMatch(
      /wrong-field\.ts\(\d+,\d+\): error TS2339: Property 'colour' does not exist/,
    );
    // `gift` was not in every event: optional, so using it unchecked fails under --strict.
    expect(output).toMatch(
      /optional\.ts\(\d+,\d+\): error TS18048: 'event\.data\.gift' is possibly 'undefined'/,
    );
    expect((await tsc(dir, ["good.ts"])).ok).toBe(true);
  }, 60_000);

  it("get eventtypes lists declared and auto-created ones; -o yaml shows the schema", async () => {
    const table = await stdoutOf(() =>
      getCommand("eventtypes", undefined, { server: eventail.url }),
    );
    expect(table.code).toBe(0);
    const lines = table.text.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+SOURCE\s+BROKER\s+COUNT/);
    expect(lines.some((l) => l.startsWith("order-created") && l.includes("/shop"))).toBe(true);
    expect(lines.some((l) => l.includes("com.example.item.picked") && /\s2\s/.test(l))).toBe(true);
    const yaml = await stdoutOf(() =>
      getCommand("eventtypes", undefined, { server: eventail.url, output: "yaml" }),
    );
    expect(yaml.text).toContain("eventail.io/count:");
    expect(yaml.text).toContain("schemaData: |");
    expect(yaml.text).toContain('"format": "date-time"');
    const auto = lines.find((l) => l.includes("com.example.item.picked"))!.split(/\s+/)[0]!;
    const one = await stdoutOf(() =>
      getCommand("eventtype", auto, { server: eventail.url, output: "json" }),
    );
    expect(JSON.parse(one.text)).toMatchObject({
      metadata: { name: auto, annotations: { "eventail.io/count": "2" } },
      spec: { type: "com.example.item.picked", source: "/warehouse" },
    });
  });
});
