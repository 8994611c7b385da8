import { deadLetterEvent } from "../delivery/dead-letter.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { DeliveryLabels, DeliveryOptions, DeliveryOutcome } from "../delivery/options.js";
import type { CloudEvent } from "../events/event.js";
import type { Backing, ConsumeMeta, SubscribeOptions, Subscription } from "./backing.js";
import { DEAD_LETTER_STORE_SINK, type DeadLetterKeeper } from "./dead-letter.js";
import type { AttemptRecord, JourneyRecorder, RouteRecord } from "./journey.js";

/** What every consumer (trigger or subscription) shares in its config. */
export interface ConsumerConfig {
  readonly namespace: string;
  readonly name: string;
  readonly delivery: DeliveryOptions;
  readonly ordered: boolean;
  readonly concurrency: number;
}

/**
 * The route of an event whose subscriber may reply, as its legs go: the subscriber, then (for a
 * subscription with `spec.reply`) the reply going on there. The same object goes to both
 * deliveries; when the reply goes on, the second leg, not the first, reports how the route
 * ended, so an event dead-lettered because `spec.reply` refused its reply is not left `replied`.
 */
export interface ReplyRoute {
  /** The event the subscriber got: the route's, and what a dead letter of either leg carries. */
  readonly event: CloudEvent;
  /** A second leg delivers the reply (a `spec.reply`): else the first leg's outcome is final. */
  readonly replyGoesOn: boolean;
  /** The route's attempts (journeys on): the subscriber's, then the reply's. */
  readonly attempts: AttemptRecord[];
  /** Set by the first leg when the subscriber replied. */
  replyId?: string;
}

/**
 * One named consumer of a backing stream that delivers through the Dispatcher: the part triggers
 * and subscriptions have in common. A manifest edit swaps the config in place (`update`), so the
 * consumer keeps its position and nothing already accepted is skipped; only a change of ordering
 * mode or concurrency needs a new subscription.
 */
export abstract class StreamConsumer<C extends ConsumerConfig> {
  private subscription?: Subscription;
  private readonly shutdown = new AbortController();

  constructor(
    protected readonly dispatcher: Dispatcher,
    readonly backing: Backing,
    readonly stream: string,
    protected config: C,
    protected readonly journeys?: JourneyRecorder,
    /** The dead-letter store (CONTRACT §11); absent: a given-up event is dropped and counted. */
    protected readonly deadLetters?: DeadLetterKeeper,
  ) {
    deadLetters?.attach(backing);
  }

  /** Names the consumer in its backing and says in logs what kind of consumer it is. */
  protected abstract readonly consumerPrefix: "trigger" | "subscription";

  /** Handles one event; resolving acknowledges it. */
  protected abstract handle(event: CloudEvent, meta: ConsumeMeta): Promise<void>;

  /** Where it delivers now: the configuration of the last reconcile. */
  get currentConfig(): C {
    return this.config;
  }

  get consumerName(): string {
    return `${this.consumerPrefix}.${this.config.namespace}.${this.config.name}`;
  }

  async start(): Promise<void> {
    // Node creates a controller's signal on first read: an EventTarget each, costly enough to
    // show when ten thousand triggers see their first event. Create it with the subscription.
    void this.shutdown.signal;
    this.subscription = await this.backing.subscribe(
      this.stream,
      this.consumerName,
      (event, meta) => this.handle(event, meta),
      this.subscribeOptions(this.config),
    );
  }

  /**
   * Whether a request held open in Eventail waits for this delivery of `event`: then it must not
   * queue behind the attempts holding such requests (DeliveryControl.heldOpen).
   */
  protected heldOpen(_event: CloudEvent): boolean {
    return false;
  }

  protected subscribeOptions(config: C): SubscribeOptions {
    return { concurrency: config.concurrency, ordered: config.ordered };
  }

  /** Applies a new version; returns false when it needs a fresh subscription. */
  update(config: C): boolean {
    const next = this.subscribeOptions(config);
    const current = this.subscribeOptions(this.config);
    if (
      next.ordered !== current.ordered ||
      next.concurrency !== current.concurrency ||
      next.typeHint !== current.typeHint
    ) {
      return false;
    }
    this.config = config;
    return true;
  }

  async stop(graceMs: number): Promise<void> {
    const timer = setTimeout(() => this.shutdown.abort(), graceMs);
    try {
      await this.subscription?.close(graceMs);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops, then deletes the consumer on the engine (its trigger or subscription was deleted), so
   * it pins no event. Unlike stop(), never used at shutdown: a restart must find its position.
   */
  async remove(graceMs: number): Promise<void> {
    await this.stop(graceMs);
    await this.backing.removeConsumer(this.stream, this.consumerName);
  }

  /**
   * Delivers through the Dispatcher; an outcome cut short by shutdown is left unacknowledged.
   * With journeys on, the outcome and each attempt are reported for `event`, or for `route.event`
   * when the delivery is a leg of its route (see ReplyRoute).
   */
  protected async deliver(
    event: CloudEvent,
    url: string,
    meta: ConsumeMeta,
    route?: ReplyRoute,
  ): Promise<DeliveryOutcome> {
    const config = this.config;
    const journeyOf = route?.event ?? event;
    const replyLeg = route !== undefined && route.replyId !== undefined;
    const journeys = this.journeys;
    const attempts: AttemptRecord[] | undefined =
      journeys === undefined ? undefined : (route?.attempts ?? []);
    const onAttempt =
      attempts === undefined
        ? undefined
        : (at: number, status: number | undefined, error: string | undefined, ms: number) => {
            attempts.push(
              status !== undefined
                ? error === undefined
                  ? { at, durationMs: ms, status }
                  : { at, durationMs: ms, status, error }
                : error === undefined
                  ? { at, durationMs: ms }
                  : { at, durationMs: ms, error },
            );
            // A failed attempt will be retried (or given up): the route is pending until then.
            if (status === undefined || status < 200 || status > 299) {
              this.report(journeyOf, { ...this.route("pending"), attempts: [...attempts] });
            }
          };
    const keeper = this.deadLetters;
    let outcome = await this.dispatcher.deliver(
      event,
      url,
      replyLeg ? this.replyDelivery(config) : config.delivery,
      this.labelsOf(config),
      {
        signal: this.shutdown.signal,
        keepAlive: meta.keepAlive,
        // The store logs and counts what it keeps; the dispatcher would call it dropped.
        failureHandled: keeper !== undefined,
        onAttempt,
        // A failed reply dead-letters the event its subscriber got, as Knative's channels do.
        deadLetterOf: replyLeg ? journeyOf : undefined,
        heldOpen: this.heldOpen(event),
      },
    );
    // Leave it unacknowledged so a durable backing delivers it again after the restart.
    if (outcome.kind === "dropped" && outcome.reason === "shutdown") {
      throw new Error("delivery interrupted by shutdown");
    }
    let stored = false;
    if (keeper !== undefined && outcome.kind === "dropped") {
      // Awaited before the handler resolves: an event the store could not take stays
      // unacknowledged, so a durable backing delivers it again rather than losing it.
      // A failed reply is kept as the event its subscriber got, with no `step`: a redrive
      // sends that to the subscriber again, whose new reply goes on as any other.
      const record = this.deadLetterRecord(journeyOf, url, outcome);
      await keeper.keep(this.backing, config.namespace, record);
      const { reason: _reason, ...rest } = outcome;
      outcome = { ...rest, kind: "dead-lettered" };
      stored = true;
    }
    if (route !== undefined && !replyLeg && outcome.kind === "replied") {
      route.replyId = String(outcome.reply.attributes["id"]);
      // The reply leg reports how the route ended.
      if (route.replyGoesOn) return outcome;
    }
    if (attempts !== undefined) {
      this.report(
        journeyOf,
        replyLeg
          ? this.replyLegRoute(outcome, attempts, stored, route.replyId!, url)
          : this.outcomeRoute(outcome, attempts, stored),
      );
    }
    return outcome;
  }

  /**
   * Delivers a dead letter again (a redrive): to `url` under this consumer's current delivery
   * rules but with no dead-letter sink, since a failed redrive leaves the entry in the store.
   * With `route`, this is the subscriber's leg of a subscription's route (see ReplyRoute).
   */
  protected async redeliver(
    event: CloudEvent,
    url: string,
    route?: ReplyRoute,
    /** `event` is a subscription's reply going on to `url`, not a delivery to the subscriber. */
    reply = false,
  ): Promise<DeliveryOutcome> {
    const config = this.config;
    const { deadLetterSink: _sink, ...delivery } = reply
      ? this.replyDelivery(config)
      : config.delivery;
    // The redrive's attempts go into its report: they are later than the dead letter's, which
    // is how a reader that meets both (two partitions, a backfill) knows which came last.
    const attempts: AttemptRecord[] = route?.attempts ?? [];
    const outcome = await this.dispatcher.deliver(
      event,
      url,
      delivery,
      { namespace: config.namespace, kind: this.consumerPrefix, name: config.name },
      {
        signal: this.shutdown.signal,
        failureHandled: true,
        onAttempt: (at, status, error, ms) => {
          attempts.push({
            at,
            durationMs: ms,
            ...(status === undefined ? {} : { status }),
            ...(error === undefined ? {} : { error }),
          });
        },
      },
    );
    if (route !== undefined && outcome.kind === "replied") {
      route.replyId = String(outcome.reply.attributes["id"]);
      if (route.replyGoesOn) return outcome;
    }
    if (outcome.kind === "delivered" || outcome.kind === "replied") {
      this.report(event, this.outcomeRoute(outcome, attempts, false));
    }
    return outcome;
  }

  private deadLetterRecord(
    event: CloudEvent,
    url: string,
    outcome: Extract<DeliveryOutcome, { kind: "dropped" }>,
  ) {
    // The same error context a dead-letter sink would get: one place decides what it holds.
    const context = deadLetterEvent(event, {
      url,
      status: outcome.status,
      body: outcome.body,
    }).attributes;
    const code = context["knativeerrorcode"];
    const data = context["knativeerrordata"];
    const sinkFailed = outcome.reason === "dead-letter-failed";
    const error = sinkFailed
      ? `the dead-letter sink ${this.config.delivery.deadLetterSink ?? ""} failed too`
      : outcome.error;
    return {
      event,
      kind: this.consumerPrefix === "trigger" ? ("Trigger" as const) : ("Subscription" as const),
      name: this.config.name,
      knativeerrordest: url,
      ...(code === undefined ? {} : { knativeerrorcode: String(code) }),
      ...(data === undefined ? {} : { knativeerrordata: String(data) }),
      attempts: outcome.attempts,
      at: Date.now(),
      ...(error === undefined ? {} : { error }),
    };
  }

  private reply: { readonly config: C; readonly delivery: DeliveryOptions } | undefined;

  /**
   * How a subscription's reply goes on to `spec.reply`: as the subscriber's delivery, but without
   * its `eventail.io/delivery.rate`, which is the subscriber's alone (CONTRACT §4).
   */
  private replyDelivery(config: C): DeliveryOptions {
    const held = this.reply;
    if (held !== undefined && held.config === config) return held.delivery;
    const { pace: _pace, ...delivery } = config.delivery;
    this.reply = { config, delivery };
    return delivery;
  }

  private labels: { readonly config: C; readonly labels: DeliveryLabels } | undefined;

  /** Who a delivery is for, built once per config rather than once per delivery. */
  private labelsOf(config: C): DeliveryLabels {
    const held = this.labels;
    if (held !== undefined && held.config === config) return held.labels;
    const labels: DeliveryLabels = Object.freeze({
      namespace: config.namespace,
      kind: this.consumerPrefix,
      name: config.name,
    });
    this.labels = { config, labels };
    return labels;
  }

  /** Reports what became of `event` for this consumer (journeys on only). */
  protected report(event: CloudEvent, route: RouteRecord): void {
    this.journeys?.routed(this.backing, this.stream, event, route);
  }

  protected route(outcome: RouteRecord["outcome"]): RouteRecord {
    return { kind: this.routeKind(), name: this.config.name, outcome };
  }

  private routeKind(): RouteRecord["kind"] {
    return this.consumerPrefix === "trigger" ? "Trigger" : "Subscription";
  }

  /**
   * How a route ended whose subscriber replied, by the outcome of its reply at `spec.reply`: still
   * `replied` once that took it, else as the reply's failure left the event (dead-lettered or
   * dropped), saying why.
   */
  private replyLegRoute(
    outcome: DeliveryOutcome,
    attempts: AttemptRecord[],
    stored: boolean,
    replyId: string,
    url: string,
  ): RouteRecord {
    const kind = this.routeKind();
    const name = this.config.name;
    if (outcome.kind === "delivered" || outcome.kind === "replied") {
      return { kind, name, outcome: "replied", attempts, replyId };
    }
    const failure =
      outcome.error ?? (outcome.status === undefined ? undefined : `HTTP ${outcome.status}`);
    const reason = `the reply could not be delivered to ${url}${failure === undefined ? "" : ` (${failure})`}`;
    if (outcome.kind === "dropped") {
      return { kind, name, outcome: "dropped", attempts, replyId, reason };
    }
    const sink = stored ? DEAD_LETTER_STORE_SINK : this.config.delivery.deadLetterSink;
    return sink
      ? { kind, name, outcome: "dead-lettered", attempts, replyId, sink, reason }
      : { kind, name, outcome: "dead-lettered", attempts, replyId, reason };
  }

  /** Object literals rather than spreads of route(): this runs once per delivery. */
  private outcomeRoute(
    outcome: DeliveryOutcome,
    attempts: AttemptRecord[],
    stored: boolean,
  ): RouteRecord {
    const kind = this.routeKind();
    const name = this.config.name;
    switch (outcome.kind) {
      case "delivered":
        return { kind, name, outcome: "delivered", attempts };
      case "replied":
        return {
          kind,
          name,
          outcome: "replied",
          attempts,
          replyId: String(outcome.reply.attributes["id"]),
        };
      case "dead-lettered": {
        const sink = stored ? DEAD_LETTER_STORE_SINK : this.config.delivery.deadLetterSink;
        return sink
          ? { kind, name, outcome: "dead-lettered", attempts, sink }
          : { kind, name, outcome: "dead-lettered", attempts };
      }
      case "dropped":
        return {
          kind,
          name,
          outcome: "dropped",
          attempts,
          reason: outcome.error ?? outcome.reason,
        };
    }
  }
}
