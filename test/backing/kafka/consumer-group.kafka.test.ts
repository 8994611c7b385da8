import { setTimeout as sleep } from "node:timers/promises";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backing, ConsumeMeta, Subscription } from "../../../src/backing/backing.js";
import { groupId, topicName } from "../../../src/backing/kafka/naming.js";
import type { CloudEvent } from "../../../src/events/event.js";
import { serviceUrl } from "../../support/services.js";
import { HoldingProcess } from "./child-process.js";
import { eventually, FAST_GROUPS, freshStream, kafkaBacking, testEvent } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");
const UNORDERED = { concurrency: 8, ordered: false } as const;

interface Delivery {
  readonly id: string;
  readonly deliveryCount: number;
}

function idOf(event: CloudEvent): string {
  return String(event.attributes["id"]);
}

describe.skipIf(!brokers)("kafka backing consumer groups", () => {
  let admin: Admin;
  const backings: Backing[] = [];
  const subscriptions: Subscription[] = [];
  const children: HoldingProcess[] = [];
  const releases: Array<() => void> = [];

  beforeAll(async () => {
    admin = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });
  afterEach(async () => {
    for (const release of releases.splice(0)) release();
    await Promise.all(children.splice(0).map((child) => child.kill()));
    await Promise.all(subscriptions.splice(0).map((s) => s.close(5_000)));
    await Promise.all(backings.splice(0).map((b) => b.close()));
  });

  async function backing(settings: Record<string, string> = {}): Promise<Backing> {
    const made = await kafkaBacking(brokers!, settings);
    backings.push(made);
    return made;
  }

  async function subscribe(
    on: Backing,
    stream: string,
    consumer: string,
    handler: (event: CloudEvent, meta: ConsumeMeta) => Promise<void>,
    options: { concurrency: number; ordered: boolean } = UNORDERED,
  ): Promise<Subscription> {
    const subscription = await on.subscribe(stream, consumer, handler, options);
    subscriptions.push(subscription);
    return subscription;
  }

  function held(): { promise: Promise<void>; release: () => void } {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    releases.push(release);
    return { promise, release };
  }

  /** Committed offset per partition, -1 where the group has none. */
  async function committed(stream: string, consumer: string): Promise<Map<number, number>> {
    const topic = topicName("eventail", stream);
    const [entry] = await admin.fetchOffsets({
      groupId: groupId("eventail", stream, consumer),
      topics: [topic],
    });
    return new Map(entry!.partitions.map((p) => [p.partition, Number(p.offset)]));
  }

  /** Polls the partition's committed offset until it is `expected` (or 10 s pass); returns it. */
  async function commitSettles(
    stream: string,
    consumer: string,
    partition: number,
    expected: number,
  ): Promise<number | undefined> {
    const deadline = Date.now() + 10_000;
    let position = (await committed(stream, consumer)).get(partition);
    while (position !== expected && Date.now() < deadline) {
      await sleep(100);
      position = (await committed(stream, consumer)).get(partition);
    }
    return position;
  }

  /**
   * Waits (at most 20 s) until the group's commits record as started, and not finished, at least
   * as many records as `pending()` names: the metadata a successor reads to count redeliveries.
   */
  async function startedCommitted(
    stream: string,
    consumer: string,
    pending: () => readonly string[],
  ): Promise<void> {
    const topic = topicName("eventail", stream);
    const deadline = Date.now() + 20_000;
    let recorded = 0;
    for (;;) {
      const [entry] = await admin.fetchOffsets({
        groupId: groupId("eventail", stream, consumer),
        topics: [topic],
      });
      recorded = 0;
      for (const p of entry!.partitions) {
        const started = /^eventail:started=(\d+)$/.exec(p.metadata ?? "");
        if (started) recorded += Math.max(0, Number(started[1]) - Number(p.offset));
      }
      if (recorded >= pending().length) return;
      if (Date.now() > deadline) {
        const commits = entry!.partitions.map((p) => `${p.partition}@${p.offset} ${p.metadata}`);
        throw new Error(
          `commits record ${recorded} started records, ${pending().length} held ` +
            `([${pending()}]; commits ${commits.join(", ")})`,
        );
      }
      await sleep(100);
    }
  }

  async function ends(stream: string): Promise<Map<number, number>> {
    const offsets = await admin.fetchTopicOffsets(topicName("eventail", stream));
    return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
  }

  it("a brand-new group stores its starting position before subscribe() resolves", async () => {
    const b = await backing();
    const stream = freshStream();
    await b.publish(stream, [testEvent(1), testEvent(2)]);
    await b.publish(stream, [testEvent(3)]);
    const seen: string[] = [];
    await subscribe(b, stream, "trigger.groups.start", async (e) => void seen.push(idOf(e)));

    // Committed at the end of every partition: a successor starts here even if this process
    // dies before it commits anything of its own.
    expect(await committed(stream, "trigger.groups.start")).toEqual(await ends(stream));
    await b.publish(stream, [testEvent(4)]);
    await eventually("the event published after subscribe()", () => seen.includes("e-4"));
    await sleep(300);
    expect(seen).toEqual(["e-4"]);
  });

  it("commits only up to the first unfinished record of a partition", async () => {
    const b = await backing();
    const stream = freshStream();
    const consumer = "trigger.groups.prefix";
    const slow = held();
    const finished: string[] = [];
    await subscribe(b, stream, consumer, async (event) => {
      if (idOf(event) === "e-1") await slow.promise;
      finished.push(idOf(event));
    });
    const start = await committed(stream, consumer);
    // One publish() call: its keyless events share a partition, at consecutive offsets 0..4.
    await b.publish(
      stream,
      [0, 1, 2, 3, 4].map((i) => testEvent(i)),
    );
    await eventually("the four events around the slow one", () => finished.length === 4);
    const [partition] = [...(await ends(stream))].find(([, end]) => end === 5)!;
    expect(start.get(partition)).toBe(0);
    expect(await commitSettles(stream, consumer, partition, 1)).toBe(1);
    await sleep(500);
    expect((await committed(stream, consumer)).get(partition)).toBe(1);

    slow.release();
    expect(await commitSettles(stream, consumer, partition, 5)).toBe(5);
  });

  it("a live process keeps a slow event for as long as it runs: no other member gets it", async () => {
    const stream = freshStream();
    const consumer = "trigger.groups.slow";
    const deliveries: Array<Delivery & { member: string }> = [];
    const warmedUp = new Set<string>();
    const WARM_UP = 1_000;
    const handler = (member: string) => async (event: CloudEvent, meta: ConsumeMeta) => {
      if (Number(idOf(event).slice(2)) >= WARM_UP) {
        warmedUp.add(member);
        return;
      }
      deliveries.push({ member, id: idOf(event), deliveryCount: meta.deliveryCount });
      // Two session timeouts of work, reporting progress the way the dispatcher does.
      for (let i = 0; i < 12; i++) {
        meta.keepAlive();
        await sleep(1_000);
      }
    };
    // A 6 s session rather than the suite's 3 s: on a machine busy enough to stall a member's
    // heartbeats for a whole session, Kafka rightly evicts it and its partitions move; what this
    // test holds is that the handler's running time does not count against the session.
    const groups = { "session.timeout.ms": "6000" };
    await subscribe(await backing(groups), stream, consumer, handler("a"));
    await subscribe(await backing(groups), stream, consumer, handler("b"));
    const publisher = await backing();
    // Both members consuming means the group has settled: a join still under way would move
    // partitions (and so the slow event) whatever the session does.
    for (let i = 0; warmedUp.size < 2; i++) {
      if (i > 120) throw new Error(`the group did not settle: ${[...warmedUp]} consumed`);
      await publisher.publish(stream, [testEvent(WARM_UP + i)]);
      await sleep(500);
    }
    await publisher.publish(stream, [testEvent(1)]);
    await eventually("the first delivery", () => deliveries.length === 1);
    await sleep(13_000);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.deliveryCount).toBe(1);
  }, 120_000);

  it("events a killed process held come back to another member, counted as redeliveries", async () => {
    const stream = freshStream();
    const consumer = "trigger.groups.crash";
    const child = await HoldingProcess.start(
      { "bootstrap.servers": brokers!, ...FAST_GROUPS },
      stream,
      consumer,
    );
    children.push(child);
    const survivor = await backing();
    const deliveries: Delivery[] = [];
    await subscribe(survivor, stream, consumer, async (event, meta) => {
      deliveries.push({ id: idOf(event), deliveryCount: meta.deliveryCount });
    });
    // Separate publish() calls rotate over the partitions, so both members get some.
    const sent = Array.from({ length: 12 }, (_, i) => testEvent(i));
    for (const event of sent) await survivor.publish(stream, [event]);
    await eventually(
      "every event at one member or the other",
      () => {
        // A late rebalance may hand an event to both members: look for coverage, not a count.
        const reached = new Set([...child.held, ...deliveries.map((d) => d.id)]);
        return sent.every((event) => reached.has(idOf(event)));
      },
      30_000,
      () => ({ held: child.held, delivered: deliveries.map((d) => d.id) }),
    );
    expect(child.held.length).toBeGreaterThan(0);
    // A rebalance that takes a partition away and gives it back has the member take its records
    // again (its first handlers never return): each id counts once.
    const orphans = [...new Set(child.held)];

    // The member records how far its handlers got in its next commit, a round trip later; a
    // process killed within that round trip leaves first deliveries looking like first ones.
    // On a busy machine that round trip can take seconds, so wait for the commit itself.
    await startedCommitted(stream, consumer, () =>
      orphans.filter((id) => !deliveries.some((d) => d.id === id)),
    );
    const killedAt = Date.now();
    await child.kill();
    await eventually(
      "the killed member's events at the survivor",
      () => orphans.every((id) => deliveries.some((d) => d.id === id)),
      30_000,
    );
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    for (const id of orphans) {
      expect(deliveries.find((d) => d.id === id)!.deliveryCount, id).toBeGreaterThanOrEqual(2);
    }
    const ids = new Set(deliveries.map((d) => d.id));
    expect(sent.every((event) => ids.has(idOf(event)))).toBe(true);
  }, 60_000);

  it("a member joining mid-stream loses nothing: every event reaches one of the two", async () => {
    const stream = freshStream();
    const consumer = "trigger.groups.rebalance";
    const seen = new Set<string>();
    const handler = async (event: CloudEvent) => {
      await sleep(20);
      seen.add(idOf(event));
    };
    const first = await backing();
    await subscribe(first, stream, consumer, handler, { concurrency: 2, ordered: false });
    let published = 0;
    const publishing = (async () => {
      for (; published < 60; published++) {
        await first.publish(stream, [testEvent(published)]);
        await sleep(50);
      }
    })();
    await sleep(500);
    await subscribe(await backing(), stream, consumer, handler, { concurrency: 2, ordered: false });
    await publishing;
    await eventually("all 60 events", () => seen.size === 60, 30_000);
  }, 60_000);

  it("ordered mode delivers a rejected event again before anything behind it on its key", async () => {
    const b = await backing();
    const stream = freshStream();
    const order: Delivery[] = [];
    let failed = false;
    await subscribe(
      b,
      stream,
      "trigger.groups.ordered",
      async (event, meta) => {
        order.push({ id: idOf(event), deliveryCount: meta.deliveryCount });
        if (idOf(event) === "e-1" && !failed) {
          failed = true;
          throw new Error("subscriber answered 503");
        }
      },
      { concurrency: 4, ordered: true },
    );
    await b.publish(
      stream,
      [0, 1, 2, 3].map((i) => testEvent(i, { partitionkey: "order-17" })),
    );
    await eventually("every event", () => new Set(order.map((d) => d.id)).size === 4);
    await sleep(300);
    expect(order).toEqual([
      { id: "e-0", deliveryCount: 1 },
      { id: "e-1", deliveryCount: 1 },
      { id: "e-1", deliveryCount: 2 },
      { id: "e-2", deliveryCount: 1 },
      { id: "e-3", deliveryCount: 1 },
    ]);
  });

  it("a consumer with a typeHint skips other types and still commits past them", async () => {
    const b = await backing();
    const stream = freshStream();
    const consumer = "trigger.groups.hint";
    const seen: string[] = [];
    await b
      .subscribe(stream, consumer, async (event) => void seen.push(idOf(event)), {
        ...UNORDERED,
        typeHint: "dev.eventail.wanted",
      })
      .then((subscription) => subscriptions.push(subscription));
    await b.publish(stream, [
      testEvent(0),
      testEvent(1, { type: "dev.eventail.wanted" }),
      testEvent(2),
      testEvent(3, { type: "dev.eventail.wanted" }),
    ]);
    await eventually("the wanted events", () => seen.length === 2);
    const [partition] = [...(await ends(stream))].find(([, end]) => end === 4)!;
    expect(await commitSettles(stream, consumer, partition, 4)).toBe(4);
    expect(seen).toEqual(["e-1", "e-3"]);
  });
});
