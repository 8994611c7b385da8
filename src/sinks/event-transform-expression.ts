/**
 * One EventTransform expression, compiled once per resource version, applied to events the way
 * Knative's JSONata transformer applies it: the input is the event in the CloudEvents JSON format
 * (attributes at the top level, `data` parsed when JSON), and the result is read back as a
 * CloudEvent in that format.
 */
import type jsonata from "jsonata";
import { type CloudEvent, EventValidationError, withAttributes } from "../events/event.js";
import { fromJsonObject, toJsonObject } from "../events/json-format.js";
import { TransformError } from "./exchange-errors.js";

/**
 * Guardrails against an expression that loops or builds without end: the event loop is not
 * released while JSONata evaluates, so one evaluation may hold the process only this long.
 */
const EVALUATION_LIMITS = { timeout: 1_000, stack: 500, sequence: 1_000_000 } as const;

/** Trace context the output keeps from its input, unless the expression sets it. */
const CARRIED = ["traceparent", "tracestate"] as const;

export interface Transformation {
  /** Which field the expression came from (`spec.jsonata`), for messages. */
  readonly field: string;
  /** The expression's value for a JSON input; throws TransformError when evaluation fails. */
  evaluate(input: unknown): Promise<unknown>;
  /** The transformed event; throws TransformError naming `field` when that fails. */
  apply(event: CloudEvent): Promise<CloudEvent>;
}

let jsonataModule: Promise<typeof jsonata> | undefined;

/** JSONata is loaded when the first EventTransform is, not with every broker. */
function loadJsonata(): Promise<typeof jsonata> {
  jsonataModule ??= import("jsonata").then((module) => module.default);
  return jsonataModule;
}

/**
 * Compiles `expression`. One that does not parse (validation only warns, as Knative accepts it)
 * gives a transformation that answers every event with that TransformError.
 */
export async function compileTransformation(
  expression: string,
  field: string,
): Promise<Transformation> {
  const compile = await loadJsonata();
  let compiled: jsonata.Expression;
  try {
    compiled = compile(expression, EVALUATION_LIMITS);
  } catch (error) {
    const problem = `${field}.expression does not parse: ${describe(error)}`;
    const refuse = async (): Promise<never> => {
      throw new TransformError(problem);
    };
    return { field, evaluate: refuse, apply: refuse };
  }
  const evaluate = async (input: unknown): Promise<unknown> => {
    try {
      return await compiled.evaluate(input);
    } catch (error) {
      throw new TransformError(`${field}.expression failed on this event: ${describe(error)}`);
    }
  };
  return {
    field,
    evaluate,
    apply: async (event) => toTransformedEvent(await evaluate(toJsonObject(event)), event, field),
  };
}

/** The expression's result as a CloudEvent, or a TransformError saying why it is not one. */
export function toTransformedEvent(result: unknown, input: CloudEvent, field: string): CloudEvent {
  if (result === undefined) {
    throw new TransformError(`${field}.expression produced nothing for this event`);
  }
  // A round trip through JSON drops what JSON has no form for (functions, undefined fields) and
  // turns JSONata's result sequences into plain arrays.
  let plain: unknown;
  try {
    plain = JSON.parse(JSON.stringify(result) ?? "null");
  } catch (error) {
    throw new TransformError(`${field}.expression produced no JSON value: ${describe(error)}`);
  }
  if (plain === null || typeof plain !== "object" || Array.isArray(plain)) {
    const got = Array.isArray(plain) ? "an array" : plain === null ? "null" : typeof plain;
    throw new TransformError(`${field}.expression must produce a CloudEvent object, not ${got}`);
  }
  const object = plain as Record<string, unknown>;
  // Data built as a JSON value is JSON: say so, so the binary mode carries it as such.
  if (object["data"] !== undefined && object["data"] !== null) {
    object["datacontenttype"] ??= "application/json";
  }
  let event: CloudEvent;
  try {
    event = fromJsonObject(object, "the transformed event");
  } catch (error) {
    if (!(error instanceof EventValidationError)) throw error;
    throw new TransformError(
      `${field}.expression did not produce a valid CloudEvent: ${error.message}`,
    );
  }
  const carried: Record<string, string> = {};
  for (const name of CARRIED) {
    const value = input.attributes[name];
    if (value !== undefined && event.attributes[name] === undefined) carried[name] = String(value);
  }
  return Object.keys(carried).length === 0 ? event : withAttributes(event, carried);
}

/** JSONata throws plain objects with a code and a message; anything else is an Error. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const { message, code } = (error ?? {}) as { message?: unknown; code?: unknown };
  const text = typeof message === "string" ? message : String(error);
  return typeof code === "string" ? `${text} (${code})` : text;
}
