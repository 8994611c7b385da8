/** What the RequestReply tests share: manifests, a responder, and one request over HTTP. */
import { request } from "undici";
import { type CloudEvent, createEvent } from "../../src/events/event.js";
import { decodeHttpResponse, encodeHttpRequest } from "../../src/events/http-binding.js";
import type { Responder } from "../support/sink.js";

export const requestReplyYaml = (name: string, spec = "", broker = "default") => `---
apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata:
  name: ${name}
  namespace: default
spec:
  brokerRef:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: ${broker}
${spec}`;

export function requestEvent(id: string, n: number): CloudEvent {
  return createEvent(
    {
      specversion: "1.0",
      id,
      source: "/client",
      type: "request",
      datacontenttype: "application/json",
    },
    Buffer.from(JSON.stringify({ n })),
  );
}

/** The reply a responder sends for `asked`: its correlation id as `replyid`, data from its own. */
export function replyTo(asked: CloudEvent, extra: Record<string, string> = {}): CloudEvent {
  const { n } = JSON.parse(asked.data!.toString("utf8")) as { n: number };
  return createEvent(
    {
      specversion: "1.0",
      id: `reply-${asked.attributes["id"]}`,
      source: "/responder",
      type: "response",
      datacontenttype: "application/json",
      replyid: String(asked.attributes["correlationid"]),
      ...extra,
    },
    Buffer.from(JSON.stringify({ request: asked.attributes["id"], doubled: n * 2 })),
  );
}

/** Answers every request event with its reply, as an HTTP reply (it re-enters the broker). */
export const responder: Responder = (received) => {
  const asked = received.event;
  if (asked === undefined || asked.attributes["type"] !== "request") return { status: 202 };
  const encoded = encodeHttpRequest(replyTo(asked), "binary");
  return { status: 200, headers: encoded.headers, body: encoded.body! };
};

export interface Answer {
  readonly status: number;
  readonly body: Buffer;
  readonly event?: CloudEvent;
}

export async function ask(url: string, event: CloudEvent, signal?: AbortSignal): Promise<Answer> {
  const encoded = encodeHttpRequest(event, "binary");
  const response = await request(url, {
    method: "POST",
    headers: encoded.headers,
    body: encoded.body ?? null,
    ...(signal ? { signal } : {}),
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const reply = decodeHttpResponse(
    response.statusCode,
    response.headers as Record<string, string>,
    body,
  ).event;
  return { status: response.statusCode, body, ...(reply ? { event: reply } : {}) };
}

export function dataOf(event: CloudEvent): Record<string, unknown> {
  return JSON.parse(event.data!.toString("utf8"));
}
