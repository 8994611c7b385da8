/**
 * A resource that a manifest names but that is not among the manifests: a Trigger's Broker, a
 * sink's Broker, a Broker's ConfigMap, a KafkaSink's Secret. Knative accepts such a manifest (the
 * resource is just not Ready until the target exists), so validation warns, and the runtime leaves
 * what depends on it stopped until the target is added (a reload starts it).
 */
export interface ReferenceTarget {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export class MissingReferenceError extends Error {
  readonly target: ReferenceTarget;

  constructor(
    kind: string,
    namespace: string,
    name: string,
    /** The field of the naming resource at fault, when known (`spec.config.name`). */
    readonly path = "",
    /** Where the reference came from, when not from the resource itself. */
    readonly via = "",
  ) {
    super(`${kind} ${namespace}/${name} is not among the manifests${via}`);
    this.name = "MissingReferenceError";
    this.target = { kind, namespace, name };
  }
}

export function isMissingReference(error: unknown): error is MissingReferenceError {
  return error instanceof MissingReferenceError;
}

const CHANNEL_KINDS = [
  "Channel",
  "InMemoryChannel",
  "KafkaChannel",
  "NatsJetStreamChannel",
  "RedisStreamChannel",
];

/** What the resource naming a missing target does meanwhile; `field` is where it names it. */
function consequence(kind: string, field: string): string {
  switch (kind) {
    case "Trigger":
    case "Subscription":
      return `this ${kind} delivers nothing`;
    case "Sequence":
    case "Parallel":
      return `this ${kind} stops events at the step that sends there`;
    case "Broker":
      return field.startsWith("spec.config")
        ? "this Broker does not run"
        : "the Triggers that use this Broker's delivery deliver nothing";
    case "SinkBinding":
      return "this SinkBinding binds nothing";
    case "EventTransform":
      return "this EventTransform is not served";
    case "RequestReply":
      return "this RequestReply answers 503";
    default:
      return CHANNEL_KINDS.includes(kind)
        ? `the Subscriptions that use this ${kind}'s delivery deliver nothing`
        : `this ${kind} does not start`;
  }
}

/**
 * `Broker default/default is not among the manifests: this Trigger delivers nothing until it is
 * added` — what is missing and what that costs, for validation's warning. `field` is the naming
 * resource's field that names it.
 */
export function missingMessage(
  target: ReferenceTarget,
  ownKind: string,
  field: string,
  via = "",
): string {
  return (
    `${target.kind} ${target.namespace}/${target.name} is not among the manifests${via}: ` +
    `${consequence(ownKind, field)} until it is added`
  );
}
