/** Error bookkeeping shared by every compiled closure. */
import type { CesqlAttributes, CesqlError, CesqlErrorKind, CesqlValue } from "./types.js";

/**
 * Evaluation is synchronous and never re-entrant, so one module-level record is enough and saves
 * allocating a context per evaluation. `count` is always maintained: an operator compares it before
 * and after evaluating its operands to learn whether one of them failed. `sink` is null in the
 * filter (fail-fast) path, so no error object or message is built there.
 */
export const state: { count: number; sink: CesqlError[] | null } = { count: 0, sink: null };

export function raise(kind: CesqlErrorKind, message: string): void {
  state.count++;
  if (state.sink !== null) state.sink.push({ kind, message });
}

export function raiseMissing(name: string): void {
  state.count++;
  if (state.sink !== null) {
    state.sink.push({ kind: "missingAttribute", message: `attribute '${name}' is not present` });
  }
}

export function raiseCast(value: string | number, type: "Integer" | "Boolean"): void {
  state.count++;
  if (state.sink !== null) {
    state.sink.push({ kind: "cast", message: `cannot cast ${describe(value)} to ${type}` });
  }
}

function describe(value: string | number): string {
  if (typeof value === "number") return String(value);
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  return `'${shown}'`;
}

export function replay(errors: readonly CesqlError[]): void {
  for (const error of errors) raise(error.kind, error.message);
}

export interface Captured {
  readonly value: CesqlValue;
  readonly errors: readonly CesqlError[];
}

const NO_ATTRIBUTES: CesqlAttributes = Object.freeze({});

/** Runs a closure that reads no attribute (at compile time), collecting its value and errors. */
export function capture(fn: (attributes: CesqlAttributes) => CesqlValue): Captured {
  const saved = { count: state.count, sink: state.sink };
  const errors: CesqlError[] = [];
  state.count = 0;
  state.sink = errors;
  try {
    return { value: fn(NO_ATTRIBUTES), errors };
  } finally {
    state.count = saved.count;
    state.sink = saved.sink;
  }
}
