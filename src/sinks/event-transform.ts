/**
 * EventTransform (CONTRACT §2a): each event is rewritten by the JSONata expression. Without a
 * sink the result is the answer (a Trigger's reply, so it re-enters the broker); with a sink the
 * result goes there through the Dispatcher, and the sink's reply is transformed by spec.reply,
 * discarded, or returned as it came.
 */
import type { Dispatcher } from "../delivery/dispatcher.js";
import { DEFAULT_DELIVERY, type DeliveryOptions } from "../delivery/options.js";
import type { CloudEvent } from "../events/event.js";
import type { ExchangeAnswer, ExchangeTarget } from "../events/ingress-target.js";
import type { Transformation } from "./event-transform-expression.js";
import { SinkFailedError } from "./exchange-errors.js";

/** What becomes of the sink's reply. */
export type ReplyHandling =
  | { readonly kind: "pass" }
  | { readonly kind: "discard" }
  | { readonly kind: "transform"; readonly transformation: Transformation };

export interface EventTransformConfig {
  readonly namespace: string;
  readonly name: string;
  readonly transformation: Transformation;
  /** The resolved spec.sink; absent, the transformed event is the answer. */
  readonly sinkUrl?: string;
  readonly reply: ReplyHandling;
}

/**
 * One attempt, no dead letter: whoever sent the event to the transform holds its request open and
 * owns the retries (a Trigger retries a 502 under its own delivery rules), so retrying here too
 * would multiply them and outlast the sender's timeout. Knative's transformer makes one attempt
 * and passes the outcome back the same way.
 */
const SINK_DELIVERY: DeliveryOptions = Object.freeze({ ...DEFAULT_DELIVERY, retry: 0 });

const ACCEPTED: ExchangeAnswer = Object.freeze({ kind: "none", status: 202 });

export class EventTransformRuntime implements ExchangeTarget {
  readonly namespace: string;
  readonly name: string;

  constructor(
    private readonly deps: { readonly dispatcher: Dispatcher },
    private readonly config: EventTransformConfig,
  ) {
    this.namespace = config.namespace;
    this.name = config.name;
  }

  async exchange(event: CloudEvent, signal: AbortSignal): Promise<ExchangeAnswer> {
    const { transformation, sinkUrl, reply } = this.config;
    const output = await transformation.apply(event);
    if (sinkUrl === undefined) return { kind: "event", event: output };
    const outcome = await this.deps.dispatcher.deliver(
      output,
      sinkUrl,
      SINK_DELIVERY,
      { namespace: this.namespace, kind: "transform", name: this.name },
      // The answer to the sender says what went wrong: no dead-letter log or drop count here.
      // The sender's attempt waits for this one: when it came through Eventail's own pool, this
      // must not queue behind it (a sink at Eventail's own address would deadlock).
      { signal, failureHandled: true, heldOpen: true },
    );
    switch (outcome.kind) {
      case "delivered":
        return ACCEPTED;
      case "replied":
        if (reply.kind === "discard") return ACCEPTED;
        if (reply.kind === "pass") return { kind: "event", event: outcome.reply };
        return { kind: "event", event: await reply.transformation.apply(outcome.reply) };
      default: {
        const answered = outcome.status === undefined ? "no answer" : `HTTP ${outcome.status}`;
        const retryAfter = outcome.headers["retry-after"];
        throw new SinkFailedError(
          `the sink ${sinkUrl} did not take the transformed event (${answered}${
            outcome.error ? `: ${outcome.error}` : ""
          })`,
          typeof retryAfter === "string" ? retryAfter : undefined,
        );
      }
    }
  }
}
