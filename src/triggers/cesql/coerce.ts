import {
  attributeValue,
  stringToBool,
  stringToInt,
  valueToBool,
  valueToInt,
  valueToString,
} from "./casts.js";
import { raiseMissing, state } from "./runtime.js";
import type { CesqlAttributes, CesqlValue, StaticType } from "./types.js";

/** A compiled (sub)expression. Errors go to `state`; on error it returns its type's zero value. */
export type Fn<T> = (attributes: CesqlAttributes) => T;

// Attribute readers, one per wanted type. The first test is the common case and is kept inline;
// the rest (other types, missing attributes) is in a shared slow path.

export function readAny(name: string): Fn<CesqlValue> {
  return (a) => {
    const v = a[name];
    return typeof v === "string" ? v : slowAny(v, name);
  };
}

export function readString(name: string): Fn<string> {
  return (a) => {
    const v = a[name];
    return typeof v === "string" ? v : slowString(v, name);
  };
}

export function readInt(name: string): Fn<number> {
  return (a) => {
    const v = a[name];
    return typeof v === "number" && (v | 0) === v ? v | 0 : slowInt(v, name);
  };
}

export function readBool(name: string): Fn<boolean> {
  return (a) => {
    const v = a[name];
    return typeof v === "boolean" ? v : slowBool(v, name);
  };
}

function slowAny(raw: unknown, name: string): CesqlValue {
  const value = attributeValue(raw);
  if (value !== undefined) return value;
  raiseMissing(name);
  return false;
}

function slowString(raw: unknown, name: string): string {
  const value = attributeValue(raw);
  if (value !== undefined) return valueToString(value);
  raiseMissing(name);
  return "";
}

function slowInt(raw: unknown, name: string): number {
  const value = attributeValue(raw);
  if (value !== undefined) return valueToInt(value);
  raiseMissing(name);
  return 0;
}

function slowBool(raw: unknown, name: string): boolean {
  const value = attributeValue(raw);
  if (value !== undefined) return valueToBool(value);
  raiseMissing(name);
  return false;
}

// Implicit casts of an already compiled operand. When the operand itself failed, its zero value is
// not cast again, so a failure is reported once and not followed by a spurious CastError.

export function toStringFn(fn: Fn<CesqlValue>, from: StaticType): Fn<string> {
  switch (from) {
    case "String":
      return fn as Fn<string>;
    case "Integer":
      return (a) => String(fn(a));
    case "Boolean":
      return (a) => (fn(a) ? "true" : "false");
    default:
      return (a) => valueToString(fn(a));
  }
}

export function toIntFn(fn: Fn<CesqlValue>, from: StaticType): Fn<number> {
  switch (from) {
    case "Integer":
      return fn as Fn<number>;
    case "Boolean":
      return (a) => (fn(a) ? 1 : 0);
    case "String":
      return (a) => {
        const start = state.count;
        const text = fn(a) as string;
        return state.count === start ? stringToInt(text) : 0;
      };
    default:
      return (a) => {
        const start = state.count;
        const value = fn(a);
        return state.count === start ? valueToInt(value) : 0;
      };
  }
}

export function toBoolFn(fn: Fn<CesqlValue>, from: StaticType): Fn<boolean> {
  switch (from) {
    case "Boolean":
      return fn as Fn<boolean>;
    case "Integer":
      return (a) => fn(a) !== 0;
    case "String":
      return (a) => {
        const start = state.count;
        const text = fn(a) as string;
        return state.count === start && stringToBool(text);
      };
    default:
      return (a) => {
        const start = state.count;
        const value = fn(a);
        return state.count === start && valueToBool(value);
      };
  }
}
