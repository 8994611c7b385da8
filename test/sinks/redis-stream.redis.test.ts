import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventailProcess, eventailBuilt } from "../support/eventail-process.js";
import { serviceUrl } from "../support/services.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

const url = serviceUrl("redis");

describe.skipIf(!url)("RedisStreamSink and RedisStreamSource against Redis", () => {
  let redis: Redis;
  const streams: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(() => {
    redis = new Redis(url!);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    if (streams.length > 0) await redis.del(...streams.splice(0));
  });
  afterAll(() => redis.disconnect());

  const newStream = () => {
    const stream = `eventail-test-${randomUUID().slice(0, 8)}`;
    streams.push(stream);
    return stream;
  };

  async function eventail(yaml: string) {
    const running = await startWithManifests(yaml);
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await running.close();
    });
    return Object.assign(running, {
      stop: async () => {
        closed = true;
        await running.close();
      },
    });
  }

  async function sink(responder?: Parameters<typeof startSink>[0]): Promise<RecordingSink> {
    const s = await startSink(responder);
    cleanups.push(() => s.close());
    return s;
  }

  const sinkYaml = (stream: string) => `apiVersion: sinks.knative.dev/v1alpha1
kind: RedisStreamSink
metadata:
  name: fruit
  namespace: default
spec:
  address: ${url}
  stream: ${stream}
`;

  const sourceYaml = (stream: string, sinkUrl: string) => `apiVersion: sources.knative.dev/v1alpha1
kind: RedisStreamSource
metadata:
  name: fruit
  namespace: default
spec:
  address: ${url}
  stream: ${stream}
  sink:
    uri: ${sinkUrl}
  delivery:
    retry: 0
  ceOverrides:
    extensions:
      team: green
`;

  const GROUP = "eventail.redisstreamsource.default.fruit";

  /** The source creates its group at `$`: entries added before that are not its to read. */
  async function groupExists(stream: string): Promise<void> {
    await eventually(async () => {
      const groups = (await redis.xinfo("GROUPS", stream).catch(() => [])) as unknown[][];
      return groups.some((group) => group.includes(GROUP));
    }, 10_000);
  }

  const pending = async (stream: string) => ((await redis.xpending(stream, GROUP)) as [number])[0];

  async function post(base: string, data: string) {
    return fetch(`${base}/sinks/default/fruit`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "e-1",
        "ce-source": "/cli",
        "ce-type": "dev.example.fruit",
        "content-type": "application/json",
      },
      body: data,
    });
  }

  it("the sink appends the event's field-value pairs as one entry and answers 202 once Redis has it", async () => {
    const stream = newStream();
    const running = await eventail(sinkYaml(stream));
    const response = await post(running.url, '["fruit","banana","count",3]');
    expect(response.status).toBe(202);
    const entries = await redis.xrange(stream, "-", "+");
    expect(entries.map(([, fields]) => fields)).toEqual([["fruit", "banana", "count", "3"]]);
  });

  it.each([
    ["an object", '{"fruit":"banana"}', "is not an array"],
    ["an odd number of items", '["fruit"]', "not a whole number of pairs"],
    ["a nested value", '["fruit",{"name":"banana"}]', "item 1 is object"],
  ])("the sink refuses data that is %s with 400 and adds nothing", async (_name, data, why) => {
    const stream = newStream();
    const running = await eventail(sinkYaml(stream));
    const response = await post(running.url, data);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; error: string };
    expect(body.code).toBe("INVALID_EVENT");
    expect(body.error).toContain(why);
    expect(await redis.exists(stream)).toBe(0);
  });

  it("the source sends each new entry as eventing-redis's event and acknowledges it once delivered", async () => {
    const stream = newStream();
    const recording = await sink();
    await eventail(sourceYaml(stream, recording.url));
    await groupExists(stream);
    const id = await redis.xadd(stream, "*", "fruit", "banana", "color", "yellow");
    await recording.waitFor(1);
    const [event] = recording.events;
    expect(event!.attributes).toMatchObject({
      id,
      type: "dev.knative.sources.redisstream",
      source: `${url}/${stream}`,
      datacontenttype: "application/json",
      team: "green",
    });
    expect(event!.attributes["time"]).toBe(new Date(Number(id!.split("-")[0])).toISOString());
    expect(JSON.parse(event!.data!.toString())).toEqual(["fruit", "banana", "color", "yellow"]);
    await eventually(async () => (await pending(stream)) === 0, 10_000, "the XACK");
  });

  it("an entry whose delivery shutdown cut short stays pending and is delivered on the next start", async () => {
    const stream = newStream();
    const hanging = await sink(() => ({ hang: true }));
    const first = await eventail(sourceYaml(stream, hanging.url));
    await groupExists(stream);
    const id = await redis.xadd(stream, "*", "fruit", "cherry");
    await hanging.waitFor(1);
    await first.stop();
    expect(await pending(stream)).toBe(1);
    const recording = await sink();
    await eventail(sourceYaml(stream, recording.url));
    await recording.waitFor(1);
    expect(recording.events[0]!.attributes["id"]).toBe(id);
    await eventually(async () => (await pending(stream)) === 0, 10_000, "the XACK");
  });

  const consumerNames = async (stream: string) =>
    ((await redis.xinfo("CONSUMERS", stream, GROUP)) as unknown[][]).map((c) =>
      String(c[c.indexOf("name") + 1]),
    );

  it("after consumers is lowered (2 → 1), the entries pending for the retired consumer are delivered", async () => {
    const stream = newStream();
    const withConsumers = (yaml: string, consumers: number) =>
      yaml.replace(`  stream: ${stream}\n`, `  stream: ${stream}\n  consumers: ${consumers}\n`);
    const hanging = await sink(() => ({ hang: true }));
    const first = await eventail(withConsumers(sourceYaml(stream, hanging.url), 2));
    await groupExists(stream);
    // Each consumer reads one entry at a time: while one hangs on its entry, the other takes the next.
    const ids = [
      await redis.xadd(stream, "*", "fruit", "fig"),
      await redis.xadd(stream, "*", "fruit", "kiwi"),
    ];
    await hanging.waitFor(2);
    await first.stop();
    const owners = (await redis.xpending(stream, GROUP, "-", "+", 10)) as Array<[string, string]>;
    const retired = owners.map(([, consumer]) => consumer).sort();
    expect(retired).toHaveLength(2);
    expect(retired[0]).toMatch(/-0$/);
    expect(retired[1]).toMatch(/-1$/);

    const recording = await sink();
    await eventail(withConsumers(sourceYaml(stream, recording.url), 1));
    await eventually(() => recording.events.length >= 2, 30_000, "both pending entries");
    expect(recording.events.map((e) => e.attributes["id"]).sort()).toEqual([...ids].sort());
    await eventually(async () => (await pending(stream)) === 0, 10_000, "the XACKs");
  });

  it("a source stopped with nothing pending leaves no consumer behind in the group", async () => {
    const stream = newStream();
    const recording = await sink();
    const running = await eventail(sourceYaml(stream, recording.url));
    await groupExists(stream);
    await redis.xadd(stream, "*", "fruit", "plum");
    await recording.waitFor(1);
    await eventually(async () => (await pending(stream)) === 0, 10_000, "the XACK");
    expect(await consumerNames(stream)).toHaveLength(1);
    await running.stop();
    expect(await consumerNames(stream)).toEqual([]);
  });

  // The manifest of a replica: its deliveries may hang for as long as the test needs.
  const replicaYaml = (stream: string, sinkUrl: string) =>
    sourceYaml(stream, sinkUrl).replace("    retry: 0\n", "    retry: 0\n    timeout: PT5M\n");

  it.skipIf(!eventailBuilt())(
    "two replicas of one source deliver each entry once while both run, and what a killed replica was delivering reaches the sink through the other",
    async () => {
      const stream = newStream();
      let first: string | undefined;
      // The first entry hangs at whichever replica reads it first; everything else is answered.
      const recording = await sink((request) => {
        first ??= request.event?.attributes["id"] as string;
        return request.event?.attributes["id"] === first &&
          recording.requests.filter((r) => r.event?.attributes["id"] === first).length === 1
          ? { hang: true }
          : { status: 202 };
      });
      const dir = mkdtempSync(path.join(tmpdir(), "eventail-rsrc-"));
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(path.join(dir, "source.yaml"), replicaYaml(stream, recording.url));
      const killed = await EventailProcess.start("replica-a", { manifests: [dir] });
      cleanups.push(() => killed.stop());
      await groupExists(stream);
      const stuck = (await redis.xadd(stream, "*", "fruit", "apple"))!;
      await recording.waitFor(1);
      expect(first).toBe(stuck);

      // The second replica starts while the first is still delivering `stuck`; with consumers: 1
      // each, every later entry must go through the second one.
      await eventail(replicaYaml(stream, recording.url));
      const later: string[] = [];
      for (let n = 0; n < 5; n++) later.push((await redis.xadd(stream, "*", "n", String(n)))!);
      const received = (id: string) =>
        recording.requests.filter((r) => r.event?.attributes["id"] === id).length;
      await eventually(() => later.every((id) => received(id) >= 1), 30_000, "the later entries");
      expect(received(stuck)).toBe(1);
      expect(later.map(received)).toEqual([1, 1, 1, 1, 1]);

      await killed.kill("SIGKILL");
      await eventually(() => received(stuck) === 2, 60_000, "the killed replica's entry");
      await eventually(async () => (await pending(stream)) === 0, 10_000, "the XACKs");
      expect(later.map(received)).toEqual([1, 1, 1, 1, 1]);
    },
    120_000,
  );

  it("what a RedisStreamSink writes, a RedisStreamSource on the same stream reads back", async () => {
    const stream = newStream();
    const recording = await sink();
    const running = await eventail(`${sinkYaml(stream)}---\n${sourceYaml(stream, recording.url)}`);
    await groupExists(stream);
    expect((await post(running.url, '["fruit","kiwi"]')).status).toBe(202);
    await recording.waitFor(1);
    expect(JSON.parse(recording.events[0]!.data!.toString())).toEqual(["fruit", "kiwi"]);
  });
});
