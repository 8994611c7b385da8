import { describe, expect, it } from "vitest";
import {
  backoffMs,
  isRetryableStatus,
  parseRetryAfter,
  retryDelayMs,
} from "../../src/delivery/retry-policy.js";

describe("isRetryableStatus", () => {
  it.each([
    [404, true],
    [408, true],
    [409, true],
    [429, true],
    [500, true],
    [503, true],
    [599, true],
    [400, false],
    [401, false],
    [403, false],
    [410, false],
    [413, false],
    [422, false],
    [301, false],
    [307, false],
  ])("%i → %s", (status, retried) => {
    expect(isRetryableStatus(status)).toBe(retried);
  });
});

describe("backoffMs (delay before retry k)", () => {
  it.each([
    { policy: "linear" as const, k: 1, ms: 200 },
    { policy: "linear" as const, k: 2, ms: 400 },
    { policy: "linear" as const, k: 5, ms: 1000 },
    { policy: "exponential" as const, k: 1, ms: 200 },
    { policy: "exponential" as const, k: 2, ms: 400 },
    { policy: "exponential" as const, k: 5, ms: 3200 },
  ])("$policy, retry $k → $ms ms", ({ policy, k, ms }) => {
    expect(backoffMs({ backoffPolicy: policy, backoffDelayMs: 200 }, k)).toBe(ms);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it.each([
    { name: "delta-seconds", value: "3", ms: 3000 },
    { name: "zero seconds", value: "0", ms: 0 },
    { name: "padded delta-seconds", value: " 2 ", ms: 2000 },
    { name: "an HTTP-date 90 s ahead", value: "Thu, 01 Jan 2026 00:01:30 GMT", ms: 90_000 },
    { name: "an HTTP-date in the past is 0", value: "Wed, 31 Dec 2025 23:00:00 GMT", ms: 0 },
    { name: "the first of several values", value: ["4", "9"], ms: 4000 },
    { name: "absent", value: undefined, ms: undefined },
    { name: "garbage", value: "soon", ms: undefined },
    { name: "negative seconds", value: "-5", ms: undefined },
    { name: "fractional seconds are not delta-seconds", value: "1.5", ms: undefined },
    { name: "the asctime HTTP-date form", value: "Thu Jan  1 00:00:10 2026", ms: 10_000 },
  ])("$name", ({ value, ms }) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

describe("retryDelayMs", () => {
  const options = { backoffPolicy: "linear" as const, backoffDelayMs: 100, retryAfterMaxMs: 5000 };
  it.each([
    { name: "no Retry-After: the backoff", status: 503, header: undefined, max: 5000, ms: 100 },
    {
      name: "429 Retry-After longer than the backoff wins",
      status: 429,
      header: "2",
      max: 5000,
      ms: 2000,
    },
    {
      name: "503 Retry-After longer than the backoff wins",
      status: 503,
      header: "1",
      max: 5000,
      ms: 1000,
    },
    {
      name: "Retry-After shorter than the backoff: the backoff",
      status: 429,
      header: "0",
      max: 5000,
      ms: 100,
    },
    { name: "Retry-After capped by retryAfterMax", status: 429, header: "60", max: 300, ms: 300 },
    { name: "retryAfterMax 0 ignores Retry-After", status: 429, header: "60", max: 0, ms: 100 },
    { name: "Retry-After on a 500 is ignored", status: 500, header: "60", max: 5000, ms: 100 },
    { name: "no response: the backoff", status: undefined, header: undefined, max: 5000, ms: 100 },
  ])("$name", ({ status, header, max, ms }) => {
    expect(retryDelayMs({ ...options, retryAfterMaxMs: max }, 1, status, header)).toBe(ms);
  });
});

describe("retryDelayMs with eventail.io/delivery.max-backoff", () => {
  const options = {
    backoffPolicy: "exponential" as const,
    backoffDelayMs: 1000,
    retryAfterMaxMs: 300_000,
  };
  it.each([
    { name: "a backoff under the cap is kept", retry: 1, cap: 1500, header: undefined, ms: 1000 },
    {
      name: "a longer backoff is cut to the cap",
      retry: 4,
      cap: 1500,
      header: undefined,
      ms: 1500,
    },
    { name: "no cap: the policy's backoff", retry: 4, cap: undefined, header: undefined, ms: 8000 },
    {
      name: "a Retry-After past the cap is still honoured",
      retry: 4,
      cap: 1500,
      header: "3",
      ms: 3000,
    },
  ])("$name", ({ retry, cap, header, ms }) => {
    const capped = cap === undefined ? options : { ...options, maxBackoffMs: cap };
    expect(retryDelayMs(capped, retry, 503, header)).toBe(ms);
  });
});
