import { describe, expect, it } from "vitest";
import { compareEntryIds, streamKey } from "../../../src/backing/redis/keys.js";
import { DEFAULT_REDIS_URL, parseRedisSettings } from "../../../src/backing/redis/settings.js";

describe("redis backing settings", () => {
  it.each<[string, Record<string, string>, Record<string, string>, string]>([
    [
      "settings.url wins over REDIS_URL",
      { url: "redis://a:1" },
      { REDIS_URL: "redis://b:2" },
      "redis://a:1",
    ],
    [
      "REDIS_URL is the default when the ConfigMap names no url",
      {},
      { REDIS_URL: "redis://b:2" },
      "redis://b:2",
    ],
    ["an empty url counts as none", { url: "" }, { REDIS_URL: "rediss://b:2" }, "rediss://b:2"],
    ["localhost:6379 is the last resort", {}, {}, DEFAULT_REDIS_URL],
  ])("%s", (_, settings, env, url) => {
    expect(parseRedisSettings({ kind: "redis", settings }, env).url).toBe(url);
  });

  it("takes timing keys as positive integers of milliseconds", () => {
    const parsed = parseRedisSettings(
      { kind: "redis", settings: { reclaimIdleMs: "1500", batchSize: "10" } },
      {},
    );
    expect(parsed.reclaimIdleMs).toBe(1500);
    expect(parsed.batchSize).toBe(10);
    expect(parsed.commandTimeoutMs).toBeLessThan(5_000);
  });

  it("takes dedicatedReaders 0 (every subscription on the shared notifier), and 4 by default", () => {
    const none = parseRedisSettings({ kind: "redis", settings: { dedicatedReaders: "0" } }, {});
    expect(none.dedicatedReaders).toBe(0);
    expect(parseRedisSettings({ kind: "redis", settings: {} }, {}).dedicatedReaders).toBe(4);
  });

  it.each([
    ["a url that is not redis://", { url: "http://x" }, "settings.url"],
    ["zero where zero means nothing", { reclaimIdleMs: "0" }, "settings.reclaimIdleMs"],
    ["a negative reader count", { dedicatedReaders: "-1" }, "settings.dedicatedReaders"],
    ["a negative number", { reclaimIdleMs: "-1" }, "settings.reclaimIdleMs"],
    ["a fraction", { blockMs: "1.5" }, "settings.blockMs"],
    ["a word", { batchSize: "many" }, "settings.batchSize"],
  ])("rejects %s, naming the key", (_, settings, field) => {
    expect(() => parseRedisSettings({ kind: "redis", settings }, {})).toThrow(field);
  });
});

describe("redis naming", () => {
  it.each([
    ["broker.default.default", "eventail:broker.default.default"],
    ["channel.ns.name", "eventail:channel.ns.name"],
  ])("stream %s lives at key %s", (stream, key) => {
    expect(streamKey(stream)).toBe(key);
  });

  it("rejects an empty stream name, naming the field", () => {
    expect(() => streamKey("")).toThrow("stream");
  });

  it.each([
    [
      "a later millisecond comes after, whatever the sequence",
      "1700000000001-0",
      "1700000000000-9",
      1,
    ],
    ["within one millisecond the sequence decides numerically", "5-10", "5-9", 1],
    ["equal ids compare equal", "5-1", "5-1", 0],
    ["an earlier id comes before", "4-99", "5-0", -1],
  ])("%s", (_, a, b, sign) => {
    expect(Math.sign(compareEntryIds(a, b))).toBe(sign);
  });
});
