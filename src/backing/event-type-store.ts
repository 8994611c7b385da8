/**
 * EventTypes created on first sight (CONTRACT §11), as an optional capability of a durable
 * backing: kept on its engine so every process of a scale-out counts into, and lists, the same
 * entries. Absent: the registry keeps them in this process's memory.
 */

/** What was seen of one (namespace, broker, type, source), or a batch of it to add. */
export interface ObservedEventType {
  readonly namespace: string;
  readonly broker: string;
  readonly type: string;
  readonly source: string;
  readonly count: number;
  /** Epoch milliseconds. */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The inferred JSON Schema of `data`; absent while no JSON data was seen. */
  readonly schema?: unknown;
}

export interface EventTypeStore {
  /**
   * Adds the batches (rejecting with EventTypesNotWrittenError naming those it did not add, so
   * a retry adds nothing twice): counts add up, first/last seen take the earliest/latest, schemas combine
   * by `mergeSchema` (the registry's widening, passed in so this layer stays schema-agnostic).
   */
  add(
    observations: readonly ObservedEventType[],
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void>;
  /**
   * Every entry, or those of one namespace. `mergeSchema` is for a store that combines schemas
   * as it reads (Kafka's); the others ignore it.
   */
  list(
    namespace?: string,
    mergeSchema?: (a: unknown, b: unknown) => unknown,
  ): Promise<ObservedEventType[]>;
}

/** Some observations were not added (the engine is away, or writers kept racing): retry these. */
export class EventTypesNotWrittenError extends Error {
  constructor(
    message: string,
    readonly unwritten: readonly ObservedEventType[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EventTypesNotWrittenError";
  }
}

/** Compare-and-set attempts per entry before a flush gives it back for the next one. */
export const CAS_ATTEMPTS = 10;

/** A short random wait before compare-and-set attempt `attempt`, so racing writers spread out. */
export function casBackoff(attempt: number): Promise<void> {
  if (attempt === 0) return Promise.resolve();
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
}
