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

export const BASELINE_ID = "relay";
/** The memory, 1 trigger scenario with authentication on; its goal compares it with memory-1. */
export const AUTHENTICATION_ID = "memory-1-auth";

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
    single("redis"),
    single("nats"),
    single("kafka"),
    single("rabbitmq"),
  ];
}
