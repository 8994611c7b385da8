import { describe, expect, it } from "vitest";
import { DeliveryPace, DeliveryPaces } from "../../src/delivery/pace.js";

/** A clock the test moves by hand. */
function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("DeliveryPace (eventail.io/delivery.rate)", () => {
  it("spaces attempts reserved at once 1/rate apart, the first going now", () => {
    const time = clock();
    const pace = new DeliveryPace(4, time.now);
    expect([pace.reserve(), pace.reserve(), pace.reserve(), pace.reserve()]).toEqual([
      0, 250, 500, 750,
    ]);
  });

  it("lets an attempt go at once when its slot has passed, and saves no burst for later", () => {
    const time = clock();
    const pace = new DeliveryPace(10, time.now);
    expect(pace.reserve()).toBe(0);
    time.advance(5_000); // idle for a long time
    expect(pace.reserve()).toBe(0);
    expect(pace.reserve()).toBe(100);
    expect(pace.reserve()).toBe(200);
  });

  it("holds fractional rates: 0.5 per second is one attempt every 2 s", () => {
    const time = clock();
    const pace = new DeliveryPace(0.5, time.now);
    expect(pace.reserve()).toBe(0);
    time.advance(500);
    expect(pace.reserve()).toBe(1_500);
  });
});

describe("DeliveryPaces (a consumer's pace across reconciles)", () => {
  it("keeps a consumer's pace while its rate stays, and starts a new one when it changes", () => {
    const paces = new DeliveryPaces();
    const first = paces.of("Trigger/default/t", 5);
    expect(paces.of("Trigger/default/t", 5)).toBe(first);
    expect(paces.of("Subscription/default/t", 5)).not.toBe(first);
    const faster = paces.of("Trigger/default/t", 10);
    expect(faster).not.toBe(first);
    expect(faster.perSecond).toBe(10);
  });

  it("forgets the paces of consumers no longer there", () => {
    const paces = new DeliveryPaces();
    const kept = paces.of("Trigger/default/kept", 5);
    const gone = paces.of("Trigger/default/gone", 5);
    paces.keepOnly(new Set(["Trigger/default/kept"]));
    expect(paces.of("Trigger/default/kept", 5)).toBe(kept);
    expect(paces.of("Trigger/default/gone", 5)).not.toBe(gone);
  });
});
