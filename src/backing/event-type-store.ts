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
   * Adds the batches: counts add up, first/last seen take the earliest/latest, schemas combine
   * by `mergeSchema` (the registry's widening, passed in so this layer stays schema-agnostic).
   */
  add(
    observations: readonly ObservedEventType[],
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void>;
  /** Every entry, or those of one namespace. */
  list(namespace?: string): Promise<ObservedEventType[]>;
}
