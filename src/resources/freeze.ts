/**
 * Freezes a resource and everything below it (Maps, like the loader's field lines, stay as they
 * are). Resources are immutable once loaded; a configuration cloned out of the reading worker
 * is frozen again with this.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !(value instanceof Map) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
