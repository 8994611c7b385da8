/**
 * A Trigger's reply re-enters its Broker under the Broker's EventPolicies, as in Knative (the
 * broker filter posts the reply to the ingress signed as the Trigger): a reply the policies do
 * not allow, from that identity or of that type, is refused and counted, never delivered.
 */
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sumSeries } from "../support/eventail-process.js";
import {
  eventually,
  ownToken,
  type RecordingSink,
  startSink,
  startWithManifests,
} from "../support/sink.js";

const PRODUCER = "system:serviceaccount:default:producer";
const ANSWERS = "system:serviceaccount:default:answers-oidc-eventing.knative.dev-trigger";

function manifests(sinkUrl: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: shop}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: shop-policy}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: shop}
  from:
    - sub: ${PRODUCER}
    - sub: ${ANSWERS}
  filters:
    - prefix: {type: com.shop.}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: answers}
spec:
  broker: shop
  filter: {attributes: {type: com.shop.question}}
  subscriber: {uri: "${sinkUrl}/answers"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: strangers}
spec:
  broker: shop
  filter: {attributes: {type: com.shop.stranger}}
  subscriber: {uri: "${sinkUrl}/strangers"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: collect}
spec:
  broker: shop
  filter: {attributes: {source: /replies}}
  subscriber: {uri: "${sinkUrl}/collect"}
`;
}

let sink: RecordingSink;
let eventail: Awaited<ReturnType<typeof startWithManifests>>;

beforeAll(async () => {
  sink = await startSink((received) => {
    const id = String(received.event?.attributes["id"] ?? "");
    if (received.path === "/collect") return { status: 202 };
    // Each question is answered with a reply whose type its id names.
    const type = id.endsWith("-evil") ? "evil.not.allowed" : "com.shop.answer";
    return {
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `reply-to-${id}`,
        "ce-source": "/replies",
        "ce-type": type,
      },
    };
  });
  eventail = await startWithManifests(manifests(sink.url));
});

afterAll(async () => {
  await eventail?.close();
  await sink?.close();
});

function token(): string {
  return ownToken(eventail, PRODUCER, "eventing.knative.dev/broker/default/shop");
}

async function send(id: string, type: string): Promise<number> {
  const response = await request(`${eventail.url}/default/shop`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": type,
      authorization: `Bearer ${token()}`,
    },
  });
  await response.body.dump();
  return response.statusCode;
}

async function forbiddenReplies(): Promise<number> {
  const response = await request(`${eventail.url}/metrics`);
  return sumSeries(await response.body.text(), "eventail_dropped_events_total", {
    reason: "reply-forbidden",
  });
}

describe("replies under the Broker's EventPolicies", () => {
  it("lets in what the policy allows from the Trigger, and refuses the rest", async () => {
    expect(await send("q-1", "com.shop.question")).toBe(202);
    expect(await send("q-2-evil", "com.shop.question")).toBe(202);
    expect(await send("s-1", "com.shop.stranger")).toBe(202);
    // The answers trigger may reply com.shop.*; not evil.*, and the strangers trigger not at all.
    await eventually(async () => (await forbiddenReplies()) === 2, 10_000, "two refused replies");
    await eventually(
      () => sink.requests.some((r) => r.path === "/collect"),
      10_000,
      "the allowed reply",
    );
    const collected = sink.requests
      .filter((r) => r.path === "/collect")
      .map((r) => r.event?.attributes["id"]);
    expect(collected).toEqual(["reply-to-q-1"]);
  });
});
