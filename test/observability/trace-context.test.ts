import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatTraceParent,
  parseTraceParent,
  sameTrace,
} from "../../src/observability/trace-context.js";
import { redactUrl, tracingConfigured } from "../../src/observability/tracing.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("traceparent parsing (W3C Trace Context)", () => {
  it.each([
    ["a version 00 value", `00-${TRACE}-${SPAN}-01`, { traceId: TRACE, spanId: SPAN, flags: 1 }],
    ["an unsampled value", `00-${TRACE}-${SPAN}-00`, { traceId: TRACE, spanId: SPAN, flags: 0 }],
    [
      "a later version with more fields (forward compatible)",
      `01-${TRACE}-${SPAN}-03-whatever`,
      { traceId: TRACE, spanId: SPAN, flags: 3 },
    ],
    ["version ff (forbidden)", `ff-${TRACE}-${SPAN}-01`, undefined],
    ["version 00 with extra fields", `00-${TRACE}-${SPAN}-01-extra`, undefined],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`, undefined],
    ["an all-zero span id", `00-${TRACE}-${"0".repeat(16)}-01`, undefined],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`, undefined],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`, undefined],
    ["not a string", 42, undefined],
    ["empty", "", undefined],
  ])("%s", (_name, value, expected) => {
    expect(parseTraceParent(value)).toEqual(expected);
  });

  const hex = (length: number) =>
    fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`)).filter((s) => /[1-9a-f]/.test(s));

  it("formats what it parses back to the same value, for any valid context", () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.integer({ min: 0, max: 255 }), (traceId, spanId, flags) => {
        const value = formatTraceParent({ traceId, spanId, flags });
        expect(parseTraceParent(value)).toEqual({ traceId, spanId, flags });
        expect(sameTrace(value, `00-${traceId}-${SPAN}-00`)).toBe(true);
      }),
    );
  });

  it("never throws on arbitrary header text, and accepts only well-formed values", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const parsed = parseTraceParent(text);
        if (parsed !== undefined) {
          expect(parsed.traceId).toMatch(/^[0-9a-f]{32}$/);
          expect(parsed.spanId).toMatch(/^[0-9a-f]{16}$/);
          expect(text.trim().slice(3, 35)).toBe(parsed.traceId);
        }
      }),
    );
  });
});

describe("tracing configuration", () => {
  it.each([
    ["nothing set: off", {}, false],
    ["the general OTLP endpoint: on", { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }, true],
    ["the traces endpoint: on", { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c/v1/traces" }, true],
    ["an empty endpoint: off", { OTEL_EXPORTER_OTLP_ENDPOINT: " " }, false],
    ["only the metrics endpoint: off", { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://c" }, false],
  ])("%s", (_name, env, expected) => {
    expect(tracingConfigured(env)).toBe(expected);
  });

  it.each([
    ["keeps a URL without credentials as given", "http://sub:8080/p?q=1", "http://sub:8080/p?q=1"],
    ["drops user and password", "https://u:secret@sub/p", "https://sub/p"],
    ["drops a lone user", "http://token@sub/", "http://sub/"],
    ['keeps an "@" in the path', "http://sub/a@b", "http://sub/a@b"],
  ])("span URL %s", (_name, url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
