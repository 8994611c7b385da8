import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { routePath } from "../../src/server/ingress-guard.js";

/** The definition routePath must keep: every `:name` replaced by its parameter, when given. */
function byRegex(pattern: string, params: Readonly<Record<string, string>>): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (whole, name: string) => params[name] ?? whole);
}

describe("routePath", () => {
  it.each([
    ["/:namespace/:name", { namespace: "ns", name: "default" }, "/ns/default"],
    ["/flows/:namespace/sequences/:name", { namespace: "a", name: "b" }, "/flows/a/sequences/b"],
    ["/sinks/:namespace/:name", { namespace: "ns" }, "/sinks/ns/:name"],
    ["/static/path", { namespace: "ns" }, "/static/path"],
    ["/:a:b/x", { a: "1", b: "2" }, "/12/x"],
  ])("%s with %o", (pattern, params, expected) => {
    expect(routePath(pattern, params)).toBe(expected);
    // A second call takes the cached template and must answer the same.
    expect(routePath(pattern, params)).toBe(expected);
  });

  it("fills any pattern as the regular-expression replacement does", () => {
    const segment = fc.oneof(
      fc.constantFrom(":namespace", ":name", ":x_1", ":", "::", "-", "/"),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 8 }).map((parts) => parts.join("")),
        fc.dictionary(fc.constantFrom("namespace", "name", "x_1", "toString"), fc.string()),
        (pattern, params) => {
          expect(routePath(pattern, params)).toBe(byRegex(pattern, params));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
