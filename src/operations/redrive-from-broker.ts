/**
 * Redrive from a dead-letter broker (CONTRACT §11 `fromBroker`): when a trigger's dead-letter
 * sink is a Broker with retention, its dead letters are that broker's archived events, each
 * carrying `knativeerrordest` (the URL that failed). Each goes back there, without the
 * `knativeerror*` extensions the dead-lettering added.
 *
 * One attempt per event under the default delivery options: the events no longer say which
 * trigger sent them, so there are no trigger delivery rules to apply, and a failure is counted
 * rather than holding the request through minutes of retries. The archive is not a queue: a
 * redriven event stays in it (until the broker's retention lets it go), so a second redrive
 * sends it again; narrow with `filter` (e.g. on `knativeerrordest`) to send only some.
 *
 * An event is sent only to a URL a running Trigger or Subscription of the broker's namespace
 * delivers its events to: `knativeerrordest` is whatever the event says, and anyone who may
 * send to the dead-letter broker could otherwise have an admin's redrive post to any address
 * (an internal service, a cloud metadata endpoint). Others count as failed, each URL logged once.
 * Nor is the `spec.reply` of a Subscription with a subscriber such a URL: a dead letter naming
 * it is the event that subscriber got (its reply failed), which the reply destination must not
 * get, and the archive cannot say which of the subscriptions replying there it came from.
 */
import type { Archive } from "../backing/backing.js";
import { type CloudEvent, withAttributes } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";

/** Archived events redelivered at once. */
const CONCURRENCY = 8;

/** A broker as the redrive sees it (the replay target of the same broker). */
export interface ArchivedBroker {
  /** Whether the Broker has `eventail.io/retention`. */
  readonly retained: boolean;
  readonly stream: string;
  /** Absent when its backing cannot read back what it keeps. */
  readonly archive?: Archive;
}

export interface FromBrokerDeps {
  broker(namespace: string, name: string): ArchivedBroker | undefined;
  /** Delivers once to `url`; true when the destination took it. */
  send(namespace: string, event: CloudEvent, url: string): Promise<boolean>;
  /** Whether a running Trigger or Subscription of `namespace` delivers its events to `url`. */
  deliversTo(namespace: string, url: string): boolean;
  readonly logger: Logger;
}

/** A redrive that cannot start; `reason` says which way. */
export class RedriveRefusedError extends Error {
  constructor(
    readonly reason: "invalid" | "not-found",
    message: string,
  ) {
    super(message);
    this.name = "RedriveRefusedError";
  }
}

export interface FromBrokerRequest {
  /** "NS/NAME" of the dead-letter broker. */
  readonly fromBroker: string;
  /** CESQL over the archived event's attributes (the knativeerror* extensions included). */
  readonly filter?: string;
}

export async function redriveFromBroker(
  deps: FromBrokerDeps,
  request: FromBrokerRequest,
): Promise<{ redriven: number; failed: number }> {
  const [namespace, name, ...rest] = request.fromBroker.split("/");
  if (!namespace || !name || rest.length > 0) {
    throw new RedriveRefusedError("invalid", "fromBroker: NAMESPACE/NAME of a Broker");
  }
  const broker = deps.broker(namespace, name);
  if (broker === undefined) {
    throw new RedriveRefusedError("not-found", `no broker ${request.fromBroker} runs here`);
  }
  if (!broker.retained) {
    throw new RedriveRefusedError(
      "invalid",
      `broker ${request.fromBroker} keeps no events: give it the annotation eventail.io/retention`,
    );
  }
  if (broker.archive === undefined) {
    throw new RedriveRefusedError(
      "invalid",
      `broker ${request.fromBroker}'s backing cannot read back what it keeps`,
    );
  }
  const matches = request.filter === undefined ? undefined : compileCesqlPredicate(request.filter);
  const result = { redriven: 0, failed: 0 };
  const refused = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const one = async (event: CloudEvent, url: string) => {
    let delivered = false;
    try {
      delivered = await deps.send(namespace, original(event), url);
    } catch (error) {
      deps.logger.warn({ err: error, broker: request.fromBroker, url }, "redrive failed");
    }
    if (delivered) result.redriven++;
    else result.failed++;
  };
  for await (const { event } of broker.archive.read(broker.stream, 0, Date.now() + 1)) {
    const url = event.attributes["knativeerrordest"];
    // Not a dead letter (something else was published to the broker): nowhere to send it.
    if (typeof url !== "string" || url === "") continue;
    if (matches !== undefined && !matches(event.attributes)) continue;
    if (!deps.deliversTo(namespace, url)) {
      result.failed++;
      if (!refused.has(url)) {
        refused.add(url);
        deps.logger.warn(
          { broker: request.fromBroker, url },
          `redrive: no Trigger or Subscription of ${namespace} delivers its events to ${url} (a reply URL is not one); not sent`,
        );
      }
      continue;
    }
    const running = one(event, url).finally(() => inFlight.delete(running));
    inFlight.add(running);
    if (inFlight.size >= CONCURRENCY) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return result;
}

/** The event as it was before it was dead-lettered. */
function original(event: CloudEvent): CloudEvent {
  return withAttributes(event, {
    knativeerrordest: undefined,
    knativeerrorcode: undefined,
    knativeerrordata: undefined,
  });
}
