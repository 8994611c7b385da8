/** The runs of one `npm run bench`, in order. The first is the baseline every ratio refers to. */

export type BackingKind = "memory" | "redis" | "nats" | "kafka" | "rabbitmq";

export type ScenarioTarget =
  | { readonly kind: "relay" }
  | {
      readonly kind: "eventail";
      readonly backing: BackingKind;
      readonly triggers: number;
      /** Trigger i filters on `type = types[i]`; otherwise every trigger takes every event. */
      readonly filtered: boolean;
      /**
       * config-features `authentication-oidc: enabled`: the producer sends a bearer token and
       * every delivery carries one (CONTRACT §10).
       */
      readonly authentication?: boolean;
      /** False runs Eventail with `--journey-size 0` (journeys off, CONTRACT §11). */
      readonly journeys?: boolean;
      /**
       * Tracing on (CONTRACT §7): spans exported over OTLP/HTTP to a receiver the bench starts
       * in its own process, which discards them.
       */
      readonly tracing?: boolean;
      /**
       * The EventType registry (CONTRACT §11): `validate` declares the event type's schema and
       * annotates the broker `eventail.io/ingress.validate: schema`; `auto-create` turns
       * config-features `eventtype-auto-create` on.
       */
      readonly eventTypes?: "validate" | "auto-create";
    };

export interface Scenario {
  /** Short name, also what --only and --profile take. */
  readonly id: string;
  readonly title: string;
  readonly target: ScenarioTarget;
  /** `ce-type` values the load generator uses in turn. */
  readonly types: readonly string[];
  /** Deliveries per event. */
  readonly fanout: number;
}

const ONE_TYPE = ["dev.eventail.bench.order"];

export function exactTypes(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `dev.eventail.bench.type${i}`);
}

function single(backing: BackingKind): Scenario {
  return {
    id: `${backing}-1`,
    title: `${backing}, 1 trigger`,
    target: { kind: "eventail", backing, triggers: 1, filtered: false },
    types: ONE_TYPE,
    fanout: 1,
  };
}

/** `single(backing)` with journeys off; the journeys goal compares `single(backing)` with it. */
function withoutJourneys(backing: BackingKind): Scenario {
  return {
    id: journeysOffId(backing),
    title: `${backing}, 1 trigger, journeys off`,
    target: { kind: "eventail", backing, triggers: 1, filtered: false, journeys: false },
    types: ONE_TYPE,
    fanout: 1,
  };
}

export const BASELINE_ID = "relay";
/** The memory, 1 trigger scenario with authentication on; its goal compares it with memory-1. */
export const AUTHENTICATION_ID = "memory-1-auth";
/** The memory, 1 trigger scenario with tracing exported; its goal compares it with memory-1. */
export const TRACING_ID = "memory-1-tracing";
/** The backings whose 1-trigger scenario also runs with journeys off, and the share it must keep. */
export const JOURNEY_GOALS: readonly (readonly [BackingKind, number])[] = [
  ["memory", 0.9],
  ["redis", 0.85],
  ["nats", 0.85],
  ["kafka", 0.85],
  ["rabbitmq", 0.85],
];

export function journeysOffId(backing: BackingKind): string {
  return `${backing}-1-nojourneys`;
}

export function scenarios(): Scenario[] {
  const manyTypes = exactTypes(10_000);
  return [
    {
      id: BASELINE_ID,
      title: "relay (baseline)",
      target: { kind: "relay" },
      types: ONE_TYPE,
      fanout: 1,
    },
    single("memory"),
    withoutJourneys("memory"),
    {
      id: AUTHENTICATION_ID,
      title: "memory, 1 trigger, authentication on",
      target: {
        kind: "eventail",
        backing: "memory",
        triggers: 1,
        filtered: false,
        authentication: true,
      },
      types: ONE_TYPE,
      fanout: 1,
    },
    {
      id: TRACING_ID,
      title: "memory, 1 trigger, tracing on",
      target: { kind: "eventail", backing: "memory", triggers: 1, filtered: false, tracing: true },
      types: ONE_TYPE,
      fanout: 1,
    },
    {
      id: "memory-fanout-10",
      title: "memory, fan-out 10",
      target: { kind: "eventail", backing: "memory", triggers: 10, filtered: false },
      types: ONE_TYPE,
      fanout: 10,
    },
    {
      id: "memory-10k",
      title: "memory, 10,000 type triggers",
      target: { kind: "eventail", backing: "memory", triggers: 10_000, filtered: true },
      types: manyTypes,
      fanout: 1,
    },
    {
      id: "memory-1-schema",
      title: "memory, 1 trigger, schema check at ingress",
      target: {
        kind: "eventail",
        backing: "memory",
        triggers: 1,
        filtered: false,
        eventTypes: "validate",
      },
      types: ONE_TYPE,
      fanout: 1,
    },
    {
      id: "memory-1-eventtypes",
      title: "memory, 1 trigger, EventTypes auto-created",
      target: {
        kind: "eventail",
        backing: "memory",
        triggers: 1,
        filtered: false,
        eventTypes: "auto-create",
      },
      types: ONE_TYPE,
      fanout: 1,
    },
    single("redis"),
    withoutJourneys("redis"),
    single("nats"),
    withoutJourneys("nats"),
    single("kafka"),
    withoutJourneys("kafka"),
    single("rabbitmq"),
    withoutJourneys("rabbitmq"),
  ];
}
