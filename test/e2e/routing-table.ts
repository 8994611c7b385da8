import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { expect } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

/**
 * A routing table on a real memory broker, for the filter end-to-end tests: one trigger (and
 * subscriber) per named filter, each event of the table posted once, then what reached which
 * subscriber. An event's row names the triggers it must reach; every other one must stay quiet.
 */

/** Event id, its attributes (as `ce-` headers) and the triggers it must reach. */
export type RoutedEvent = [string, Record<string, string>, string[]];

export interface RoutingRun {
  /** The triggers that received the event `id`, sorted. */
  reached(id: string): string[];
  /** Every subscriber got each of its events once. */
  deliveredOnce(): boolean;
  close(): Promise<void>;
}

/** `filters` maps a trigger name to its filter, as YAML under `spec` (e.g. `filters: [...]`). */
export async function routeTable(
  filters: Readonly<Record<string, string>>,
  events: readonly RoutedEvent[],
): Promise<RoutingRun> {
  const sinks: Record<string, RecordingSink> = {};
  let yaml = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}\n";
  for (const [name, filter] of Object.entries(filters)) {
    sinks[name] = await startSink();
    yaml += `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}}
spec:
  broker: default
  ${filter}
  subscriber: {uri: "${sinks[name]!.url}"}
`;
  }
  const running = await startWithManifests(yaml);
  for (const [id, attributes] of events) {
    const headers: Record<string, string> = {
      "ce-specversion": "1.0",
      "ce-id": id,
      "content-type": "application/json",
    };
    for (const [name, value] of Object.entries(attributes)) {
      // Binary mode carries datacontenttype as Content-Type.
      headers[name === "datacontenttype" ? "content-type" : `ce-${name}`] = value;
    }
    const response = await request(`${running.url}/default/default`, {
      method: "POST",
      headers,
      body: "{}",
    });
    expect(response.statusCode).toBe(202);
    await response.body.dump();
  }
  const expected = events.reduce((n, [, , to]) => n + to.length, 0);
  const total = () => Object.values(sinks).reduce((n, s) => n + s.requests.length, 0);
  const deadline = Date.now() + 10_000;
  while (total() < expected && Date.now() < deadline) await sleep(20);
  // Time for a wrong delivery to arrive after the right ones.
  await sleep(300);
  return {
    reached: (id) =>
      Object.entries(sinks)
        .filter(([, sink]) => sink.events.some((e) => e.attributes["id"] === id))
        .map(([name]) => name)
        .sort(),
    deliveredOnce: () =>
      Object.values(sinks).every((sink) => {
        const ids = sink.events.map((e) => e.attributes["id"]);
        return new Set(ids).size === ids.length;
      }),
    close: async () => {
      await running.close();
      await Promise.all(Object.values(sinks).map((s) => s.close()));
    },
  };
}
