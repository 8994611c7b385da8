/**
 * CONTRACT §12 end to end in a real browser: a whole Eventail serving the built console, a real
 * subscriber, and Chromium clicking through the topology, the tail, a journey, dead letters with
 * redrive, and the send form, at 1280×800 and on a 390-px phone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";
import {
  buildConsole,
  chromiumMissing,
  launchBrowser,
  openPage,
  SKIP_REASON,
  screenshot,
} from "./browser.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

function manifests(sinkUrl: string): string {
  return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: default
  filter: {attributes: {type: dev.example.order}}
  subscriber: {uri: "${sinkUrl}/orders"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: flaky}
spec:
  broker: default
  filter: {attributes: {type: dev.example.flaky}}
  subscriber: {uri: "${sinkUrl}/flaky"}
  delivery: {retry: 1, backoffPolicy: linear, backoffDelay: PT0.05S}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: audit}
spec:
  broker: default
  filter: {attributes: {type: dev.example.console}}
  subscriber: {uri: "${sinkUrl}/audit"}
  delivery:
    deadLetterSink: {uri: "${sinkUrl}/dead-letters"}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: yearly}
spec:
  schedule: "0 0 1 1 *"
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: fanout}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: copy}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: fanout}
  subscriber: {uri: "${sinkUrl}/copy"}
`;
}

describe.skipIf(chromiumMissing)(
  `web console in Chromium${chromiumMissing ? ` (${SKIP_REASON})` : ""}`,
  () => {
    let eventail: Running;
    let sink: RecordingSink;
    let browser: Browser;
    let flakyHealthy = false;
    let consoleDir: string;

    beforeAll(async () => {
      sink = await startSink((received) => {
        if (received.path === "/flaky" && !flakyHealthy) return { status: 500, body: "not today" };
        return { status: 202 };
      });
      consoleDir = buildConsole();
      eventail = await startWithManifests(manifests(sink.url), { consoleDir });
      browser = await launchBrowser();
    });

    afterAll(async () => {
      await browser?.close();
      await eventail?.close();
      await sink?.close();
      if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
    });

    async function post(type: string, id: string, data: unknown) {
      const response = await request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: {
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/test/console",
          "ce-type": type,
          "content-type": "application/json",
        },
        body: JSON.stringify(data),
      });
      await response.body.dump();
      expect(response.statusCode).toBe(202);
    }

    const open = async (hash: string, viewport?: { width: number; height: number }) => {
      const opened = await openPage(browser, viewport);
      await opened.page.goto(`${eventail.url}/ui/${hash}`);
      return opened;
    };

    it("redirects /ui to /ui/ and gives a deep link the page, a missing asset a 404", async () => {
      const redirect = await request(`${eventail.url}/ui`);
      await redirect.body.dump();
      expect(redirect.statusCode).toBe(301);
      expect(redirect.headers.location).toBe("/ui/");
      const deep = await request(`${eventail.url}/ui/journey/default/x`);
      expect(deep.statusCode).toBe(200);
      expect(await deep.body.text()).toContain('<div id="app">');
      const missing = await request(`${eventail.url}/ui/missing.js`);
      await missing.body.dump();
      expect(missing.statusCode).toBe(404);
    });

    it("draws the broker and its triggers, Ready, and opens a node's panel from the keyboard", async () => {
      const { page, errors } = await open("#/topology");
      await page.locator('[data-node="Broker/default/default"]').waitFor();
      for (const name of ["orders", "flaky", "audit"]) {
        await expect
          .poll(() =>
            page.locator(`[data-node="Trigger/default/${name}"]`).getAttribute("aria-label"),
          )
          .toContain("Ready");
      }
      // The dead-letter sink of "audit" is drawn as its own edge; a source feeds the broker; a
      // channel feeds its subscription.
      const edges = await page
        .locator("[data-edge]")
        .evaluateAll((paths) =>
          paths.map(
            (p) =>
              `${p.getAttribute("data-edge")} ${p.getAttribute("data-from")} → ${p.getAttribute("data-to")}`,
          ),
        );
      expect(edges).toEqual(
        expect.arrayContaining([
          `dead-letter Trigger/default/audit → uri:${sink.url}/dead-letters`,
          "flow PingSource/default/yearly → Broker/default/default",
          "flow Broker/default/default → Trigger/default/orders",
          `flow Trigger/default/orders → uri:${sink.url}/orders`,
          "flow InMemoryChannel/default/fanout → Subscription/default/copy",
          `flow Subscription/default/copy → uri:${sink.url}/copy`,
        ]),
      );
      expect(edges.filter((e) => e.startsWith("dead-letter"))).toHaveLength(1);
      for (const node of ["PingSource/default/yearly", "InMemoryChannel/default/fanout"]) {
        const label = await page.locator(`[data-node="${node}"]`).getAttribute("aria-label");
        expect(label).toContain("Ready");
      }
      await page.locator('[data-node="Trigger/default/orders"]').focus();
      await page.keyboard.press("Enter");
      const panel = page.locator("aside.panel");
      await expect
        .poll(() => panel.getByRole("heading", { level: 2 }).textContent())
        .toBe("Trigger orders");
      expect(await panel.textContent()).toContain(`${sink.url}/orders`);
      const manifest = await panel.getByTestId("manifest").textContent();
      expect(manifest).toContain("kind: Trigger\n");
      expect(manifest).toContain("  broker: default\n");
      // Live rate: once events are delivered, the rate label appears from /metrics.
      await post("dev.example.order", "rate-1", { n: 1 });
      await expect
        .poll(
          () => page.locator('[data-node="Trigger/default/orders"]').getAttribute("aria-label"),
          {
            timeout: 10_000,
          },
        )
        .toMatch(/deliveries per second/);
      await screenshot(page, "topology");
      expect(errors).toEqual([]);
      await page.close();
    });

    it("shows a sent event in the tail, then opens its journey", async () => {
      const { page, errors } = await open("#/tail");
      await page.getByText("Streaming.").waitFor();
      await post("dev.example.order", "tail-1", { item: "book" });
      const row = page.locator(".tail-row", {
        hasText: "dev.example.order from /test/console (id tail-1)",
      });
      await row.waitFor();
      await page
        .locator(".tail-row", { hasText: "Trigger orders: delivered HTTP 202 (id tail-1" })
        .waitFor();
      await screenshot(page, "tail");
      await row.getByRole("button", { name: "Journey of tail-1" }).click();
      await page.locator('[data-route="orders"]').waitFor();
      expect(await page.locator('[data-route="orders"]').textContent()).toContain("delivered");
      expect(await page.locator('[data-route="flaky"]').textContent()).toContain("filtered-out");
      expect(page.url()).toContain("#/journey/default/tail-1");
      await screenshot(page, "journey");
      expect(errors).toEqual([]);
      await page.close();
    });

    it("shows the server's error for a bad CESQL filter inline, and filters with a good one", async () => {
      const { page } = await open("#/tail");
      await page.getByText("Streaming.").waitFor();
      const filter = page.getByLabel("CESQL filter");
      await filter.fill("type = ");
      await page.getByRole("button", { name: "Apply" }).click();
      const alert = page.getByRole("alert");
      await expect.poll(() => alert.textContent()).toMatch(/^filter: /);
      expect(await filter.getAttribute("aria-invalid")).toBe("true");
      await filter.fill("id = 'wanted'");
      await page.getByRole("button", { name: "Apply" }).click();
      await page.getByText("Streaming.").waitFor();
      await post("dev.example.order", "unwanted", {});
      await post("dev.example.order", "wanted", {});
      await page.locator(".tail-cloudevent", { hasText: "(id wanted)" }).waitFor();
      expect(await page.locator(".tail-row", { hasText: "unwanted" }).count()).toBe(0);
      // Paused, new messages wait; resumed, they show.
      await page.getByRole("button", { name: "Pause" }).click();
      await post("dev.example.order", "wanted", {});
      await page.getByRole("button", { name: /Resume \(\d+ waiting\)/ }).waitFor();
      const before = await page.locator(".tail-cloudevent").count();
      await page.getByRole("button", { name: /Resume/ }).click();
      await expect.poll(() => page.locator(".tail-cloudevent").count()).toBeGreaterThan(before);
      await page.close();
    });

    it("lists a dead letter, shows its decoded body, and redrives it once the subscriber is healthy", async () => {
      flakyHealthy = false;
      await post("dev.example.flaky", "dl-1", { reason: "the subscriber fails" });
      await expect
        .poll(async () => (await eventail.deadLetters.list("default", 10)).length, {
          timeout: 10_000,
        })
        .toBe(1);
      const { page, errors } = await open("#/deadletters");
      const row = page.locator("tr", { hasText: "dl-1" });
      await row.waitFor();
      expect(await row.textContent()).toContain("Trigger flaky (2 attempts)");
      await row.getByRole("button", { name: "Inspect" }).click();
      expect(await page.getByTestId("dead-letter-body").textContent()).toContain(
        '"reason": "the subscriber fails"',
      );
      expect(await page.locator("tr.details").textContent()).toContain("not today");
      await screenshot(page, "dead-letters");
      flakyHealthy = true;
      const delivered = sink.requests.filter((r) => r.path === "/flaky").length;
      await row.getByRole("button", { name: "Redrive" }).click();
      await expect
        .poll(() => page.getByRole("status").textContent())
        .toBe("Redriven: 1, failed again: 0.");
      await page.getByText("No dead letters in default.").waitFor();
      const again = sink.requests.filter((r) => r.path === "/flaky");
      expect(again.length).toBe(delivered + 1);
      expect(again.at(-1)?.event?.attributes.id).toBe("dl-1");
      expect(errors).toEqual([]);
      await page.close();
    });

    it("sends an event from the form to the broker", async () => {
      const { page, errors } = await open("#/send");
      await expect
        .poll(() => page.getByRole("combobox", { name: /^To/ }).inputValue())
        .toBe("/default/default");
      await page.getByLabel("Id").fill("from-the-form");
      await page.getByLabel("Type", { exact: true }).fill("dev.example.console");
      await page.getByLabel("Data").fill('{"sent": "by a person"}');
      await page.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toMatch(/^202/);
      await expect
        .poll(() =>
          sink.requests.find(
            (r) => r.path === "/audit" && r.event?.attributes.id === "from-the-form",
          ),
        )
        .toBeDefined();
      const got = sink.requests.find((r) => r.event?.attributes.id === "from-the-form")!;
      expect(got.event?.attributes.type).toBe("dev.example.console");
      expect(JSON.parse(got.body.toString())).toEqual({ sent: "by a person" });
      await page.getByRole("button", { name: "Open its journey" }).click();
      await page.locator('[data-route="audit"]').waitFor();
      expect(errors).toEqual([]);
      await page.close();
    });

    it("is usable on a 390-px phone: the views fit the width and the graph scrolls inside", async () => {
      const { page, errors } = await open("#/topology", { width: 390, height: 844 });
      await page.locator('[data-node="Broker/default/default"]').waitFor();
      const fits = (p: Page) => p.evaluate<boolean>("document.documentElement.scrollWidth <= 390");
      expect(await fits(page)).toBe(true);
      await screenshot(page, "phone-topology");
      for (const view of ["Live tail", "Journey", "Dead letters", "Send"]) {
        await page.getByRole("link", { name: view }).click();
        await page.getByRole("heading", { level: 1 }).waitFor();
        expect(await fits(page), view).toBe(true);
      }
      expect(errors).toEqual([]);
      await page.close();
    });

    it("moves through the views with the keyboard, with a visible focus", async () => {
      const { page } = await open("#/topology");
      await page.locator('[data-node="Broker/default/default"]').waitFor();
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement?.textContent")).toBe(
        "Skip to content",
      );
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      expect(await page.evaluate<string>("document.activeElement?.textContent")).toBe("Live tail");
      const outline = await page.evaluate<string>(
        "getComputedStyle(document.activeElement).outlineStyle",
      );
      expect(outline).toBe("solid");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Live tail" }).waitFor();
      await page.close();
    });
  },
);

describe("web console not built", () => {
  it("answers /ui/ with a 404 that says how to build it", async () => {
    const empty = mkdtempSync(path.join(tmpdir(), "eventail-no-console-"));
    const eventail = await startWithManifests("", { consoleDir: empty });
    try {
      const response = await request(`${eventail.url}/ui/`);
      expect(response.statusCode).toBe(404);
      expect(await response.body.json()).toEqual({
        error: "the web console is not built: run npm run build",
        code: "NOT_FOUND",
      });
    } finally {
      await eventail.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
