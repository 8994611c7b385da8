import { raiseCast } from "./runtime.js";
import { type CesqlType, type CesqlValue, INT_MAX, INT_MIN } from "./types.js";

const INTEGER_TEXT = /^[+-]?[0-9]+$/;

/** String -> Integer (spec 3.7): optional sign and base-10 digits within 32 bits, else 0 + CastError. */
export function stringToInt(text: string): number {
  if (INTEGER_TEXT.test(text)) {
    const n = Number(text);
    if (n >= INT_MIN && n <= INT_MAX) return n | 0;
  }
  raiseCast(text, "Integer");
  return 0;
}

/** String -> Boolean: "true"/"false" in any case, else false + CastError. */
export function stringToBool(text: string): boolean {
  // Lower-casing never shortens a string, so longer strings cannot spell true or false.
  if (text.length <= 5) {
    const lower = text.toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
  }
  raiseCast(text, "Boolean");
  return false;
}

export function valueToString(value: CesqlValue): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return String(value);
}

export function valueToInt(value: CesqlValue): number {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return stringToInt(value);
}

export function valueToBool(value: CesqlValue): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  return stringToBool(value);
}

export function castValue(value: CesqlValue, type: CesqlType): CesqlValue {
  switch (type) {
    case "String":
      return valueToString(value);
    case "Integer":
      return valueToInt(value);
    default:
      return valueToBool(value);
  }
}

export function typeOfValue(value: CesqlValue): CesqlType {
  if (typeof value === "string") return "String";
  return typeof value === "number" ? "Integer" : "Boolean";
}

/**
 * How an attribute value is seen by CESQL, or undefined when it is absent. Numbers that are not
 * 32-bit integers are not CESQL values, so (spec 3.2) they are represented as strings; anything that
 * is not a string, number or boolean (possible from untyped callers, or inherited properties such as
 * `constructor`) counts as absent.
 */
export function attributeValue(value: unknown): CesqlValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return (value | 0) === value ? value | 0 : String(value);
    default:
      return undefined;
  }
}
