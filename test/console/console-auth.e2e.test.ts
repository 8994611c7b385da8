/**
 * The console with authentication on (CONTRACT §10, §12): the first 401 asks for a token once,
 * the token stays in the tab's sessionStorage, and every API call — the tail's streaming fetch
 * included — carries it in the Authorization header, never in a URL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ownToken, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";
import { buildConsole, chromiumMissing, launchBrowser, openPage, SKIP_REASON } from "./browser.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const BROKER_AUDIENCE = "eventing.knative.dev/broker/default/default";

function manifests(sinkUrl: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: default
  subscriber: {uri: "${sinkUrl}/orders"}
`;
}

describe.skipIf(chromiumMissing)(
  `web console with authentication on${chromiumMissing ? ` (${SKIP_REASON})` : ""}`,
  () => {
    let eventail: Running;
    let sink: RecordingSink;
    let browser: Browser;
    let stateDir: string;
    let consoleDir: string;

    beforeAll(async () => {
      stateDir = mkdtempSync(path.join(tmpdir(), "eventail-console-state-"));
      sink = await startSink();
      consoleDir = buildConsole();
      eventail = await startWithManifests(manifests(sink.url), {
        consoleDir,
        stateDir,
      });
      browser = await launchBrowser();
    });

    afterAll(async () => {
      await browser?.close();
      await eventail?.close();
      await sink?.close();
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
      if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
    });

    function token(aud: string, sub = "system:serviceaccount:default:console-test"): string {
      return ownToken(eventail, sub, aud);
    }

    it("asks for a token once, then streams the tail with it in the Authorization header", async () => {
      const apiToken = token("eventail:api");
      const { page, errors } = await openPage(browser);
      const sent: Array<{ url: string; authorization: string | undefined }> = [];
      page.on("request", (r) => {
        sent.push({ url: r.url(), authorization: r.headers()["authorization"] });
      });
      await page.goto(`${eventail.url}/ui/#/tail`);
      const dialog = page.getByRole("dialog", { name: "Token needed" });
      await dialog.waitFor();
      await dialog.getByLabel("Token").fill(apiToken);
      await dialog.getByRole("button", { name: "Use this token" }).click();
      await page.getByText("Streaming.").waitFor();
      expect(
        await page.evaluate<string | null>("sessionStorage.getItem('eventail.console.token')"),
      ).toBe(apiToken);

      const response = await request(`${eventail.url}/default/default`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token(BROKER_AUDIENCE)}`,
          "ce-specversion": "1.0",
          "ce-id": "with-a-token",
          "ce-source": "/test/console",
          "ce-type": "dev.example.order",
        },
        body: "{}",
      });
      await response.body.dump();
      expect(response.statusCode).toBe(202);
      await page.locator(".tail-cloudevent", { hasText: "(id with-a-token)" }).waitFor();

      const tails = sent.filter((r) => new URL(r.url).pathname === "/api/v1/tail");
      // The first try had no token and got the 401 that asked for one; the retry carried it.
      expect(tails.map((r) => r.authorization)).toEqual([undefined, `Bearer ${apiToken}`]);
      expect(sent.some((r) => r.url.includes(apiToken))).toBe(false);

      // Another view's calls use the kept token without asking again.
      await page.getByRole("link", { name: "Topology" }).click();
      await page.locator('[data-node="Trigger/default/orders"]').waitFor();
      expect(await dialog.count()).toBe(0);
      const resources = sent.filter((r) => new URL(r.url).pathname === "/api/v1/resources");
      expect(resources.at(-1)?.authorization).toBe(`Bearer ${apiToken}`);
      expect(errors).toEqual([]);
      await page.close();
    });

    it("asks once for concurrent refusals and shows the refusal when the prompt is cancelled", async () => {
      const { page } = await openPage(browser);
      await page.goto(`${eventail.url}/ui/#/topology`);
      const dialog = page.getByRole("dialog", { name: "Token needed" });
      await dialog.waitFor();
      // The topology reads resources, the tail and /metrics at once: one question for all.
      expect(await dialog.count()).toBe(1);
      await dialog.getByRole("button", { name: "Cancel" }).click();
      await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/token/i);
      // Declined, the console does not ask again by itself; the header offers to.
      await page.getByRole("button", { name: "Give a token" }).click();
      await dialog.getByLabel("Token").fill(token("eventail:api"));
      await dialog.getByRole("button", { name: "Use this token" }).click();
      await page.locator('[data-node="Trigger/default/orders"]').waitFor();

      // The send form: the broker checks its own audience, so it takes a token for the address.
      await page.getByRole("link", { name: "Send" }).click();
      await expect
        .poll(() => page.getByRole("combobox", { name: /^To/ }).inputValue())
        .toBe("/default/default");
      await page.getByLabel("Id").fill("sent-with-a-token");
      await page.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toMatch(/^401/);
      await page.getByLabel("Token for this address").fill(token(BROKER_AUDIENCE));
      await page.getByRole("button", { name: "Send" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toMatch(/^202/);
      await expect
        .poll(() => sink.requests.some((r) => r.event?.attributes.id === "sent-with-a-token"))
        .toBe(true);
      await page.close();
    });
  },
);
