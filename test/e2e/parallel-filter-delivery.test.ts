import { request } from "undici";
import { describe, expect, it } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import { closedAfterEach, eventually } from "../support/sink.js";

/**
 * A Parallel branch's `delivery` governs its subscriber only: Knative's NewFilterSubscription
 * builds the filter Subscription without one, so a failing filter falls back to the channel's
 * delivery (CONTRACT §4: a filter that fails skips the branch).
 */
const { sink, eventail } = closedAfterEach();

async function post(url: string, id: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/parallel-test",
      "ce-type": "dev.example.order",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  return response.statusCode;
}

describe("Parallel branch delivery", () => {
  it("a failing filter is called under the channel's delivery, not the branch's retries and dead-letter sink", async () => {
    const filter = await sink(() => ({ status: 500 }));
    const branchSubscriber = await sink();
    const branchDls = await sink();
    const channelDls = await sink();
    const other = await sink();
    const running = await eventail(`apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: par, namespace: default}
spec:
  channelTemplate:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    spec:
      delivery: {retry: 0, deadLetterSink: {uri: "${channelDls.url}"}}
  branches:
    - filter: {uri: "${filter.url}/filter"}
      subscriber: {uri: "${branchSubscriber.url}"}
      delivery:
        retry: 2
        backoffPolicy: linear
        backoffDelay: PT0.01S
        deadLetterSink: {uri: "${branchDls.url}"}
    - subscriber: {uri: "${other.url}"}
`);

    expect(await post(`${running.url}/flows/default/parallels/par`, "p1")).toBe(202);
    await other.waitFor(1);
    await eventually(
      () => channelDls.requests.length + branchDls.requests.length > 0,
      10_000,
      "the filter's failure to be dead-lettered",
    );

    expect(branchDls.requests).toHaveLength(0);
    expect(filter.requests).toHaveLength(1);
    const letter = channelDls.events[0]!;
    expect(letter.attributes["id"]).toBe("p1");
    expect(letter.attributes["knativeerrordest"]).toBe(`${filter.url}/filter`);
    expect(letter.attributes["knativeerrorcode"]).toBe("500");
    expect(branchSubscriber.requests).toHaveLength(0);
  });

  it("with no channel delivery a failing filter is called once and its event kept in the dead-letter store", async () => {
    const filter = await sink(() => ({ status: 500 }));
    const branchSubscriber = await sink();
    const branchDls = await sink();
    const running = await eventail(`apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: par, namespace: default}
spec:
  branches:
    - filter: {uri: "${filter.url}/filter"}
      subscriber: {uri: "${branchSubscriber.url}"}
      delivery:
        retry: 2
        backoffPolicy: linear
        backoffDelay: PT0.01S
        deadLetterSink: {uri: "${branchDls.url}"}
`);

    expect(await post(`${running.url}/flows/default/parallels/par`, "p2")).toBe(202);
    let kept: DeadLetterJson[] = [];
    await eventually(
      async () => {
        const response = await request(`${running.url}/api/v1/deadletters?namespace=default`);
        kept = ((await response.body.json()) as { items: DeadLetterJson[] }).items;
        return kept.length > 0 || branchDls.requests.length > 0;
      },
      10_000,
      "the filter's failure to be kept",
    );
    expect(branchDls.requests).toHaveLength(0);
    expect(
      kept.map((entry) => [entry.kind, entry.name, entry.event["id"], entry.attempts]),
    ).toEqual([["Subscription", "par-kn-parallel-filter-0", "p2", 1]]);
    expect(filter.requests).toHaveLength(1);
    expect(branchSubscriber.requests).toHaveLength(0);
  });
});
