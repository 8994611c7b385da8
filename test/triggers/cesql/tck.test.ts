import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type CesqlValue, compile } from "../../../src/triggers/cesql/index.js";

/** The CESQL TCK, copied from cloudevents/spec (see its SOURCE.md). */
const TCK_DIR = path.resolve(import.meta.dirname, "../../fixtures/cesql-tck");

type Attributes = Record<string, string | number | boolean>;

interface TckCase {
  file: string;
  name: string;
  expression: string;
  result: CesqlValue | undefined;
  error: string | undefined;
  event: Attributes;
}

/** Used when a case gives no `event`: the required attributes only, so optional ones are missing. */
const DEFAULT_EVENT: Attributes = {
  specversion: "1.0",
  id: "tck-id",
  source: "/tck/source",
  type: "tck.type",
};

/**
 * Cases where the TCK disagrees with the text of the spec; we follow the spec. Keyed by
 * "file / case name".
 */
const SPEC_OVERRIDES: Record<
  string,
  { result: CesqlValue; error: string | undefined; reason: string }
> = {
  "not_operator.yaml / Invalid int cast": {
    result: false,
    error: undefined,
    reason:
      "spec 3.7: Integer -> Boolean casting MUST be supported (0 is false, anything else true), " +
      "so NOT 10 is NOT true = false without error; the TCK still expects the pre-1.0 cast error",
  },
};

function loadCases(): TckCase[] {
  const files = readdirSync(TCK_DIR)
    .filter((file) => file.endsWith(".yaml"))
    .sort();
  const cases: TckCase[] = [];
  for (const file of files) {
    const doc = parseYaml(readFileSync(path.join(TCK_DIR, file), "utf8")) as {
      tests: Array<{
        name: unknown;
        expression: unknown;
        result?: CesqlValue;
        error?: string;
        event?: Attributes;
        eventOverrides?: Attributes;
      }>;
    };
    for (const test of doc.tests) {
      cases.push({
        file,
        name: String(test.name),
        expression: String(test.expression),
        result: test.result,
        error: test.error,
        event: test.event ?? { ...DEFAULT_EVENT, ...test.eventOverrides },
      });
    }
  }
  return cases;
}

const cases = loadCases();

describe("CESQL TCK", () => {
  it("loads all 275 cases from the 18 files", () => {
    expect(new Set(cases.map((c) => c.file)).size).toBe(18);
    expect(cases).toHaveLength(275);
  });

  it("lists only existing cases as spec overrides", () => {
    const keys = new Set(cases.map((c) => `${c.file} / ${c.name}`));
    for (const key of Object.keys(SPEC_OVERRIDES)) expect(keys.has(key)).toBe(true);
  });

  it.each(cases.map((c) => [`${c.file} / ${c.name}`, c] as const))("%s", (key, c) => {
    const override = SPEC_OVERRIDES[key];
    const expected = override ?? { result: c.result, error: c.error };
    const compiled = compile(c.expression);
    if (expected.error === "parse") {
      expect(compiled.ok).toBe(false);
      if (!compiled.ok) expect(compiled.error.kind).toBe("parse");
      return;
    }
    if (!compiled.ok) throw new Error(`unexpected parse error: ${compiled.error.message}`);
    const { value, errors } = compiled.program.evaluate(c.event);
    expect(value).toStrictEqual(expected.result);
    expect(errors[0]?.kind).toBe(expected.error);
    // The filter path must agree with full evaluation.
    expect(compiled.program.matches(c.event)).toBe(value === true && errors.length === 0);
  });
});
