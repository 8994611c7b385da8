import type { Channel, Message } from "amqplib";
import { describe, expect, it } from "vitest";
import { ChannelAcks } from "../../../src/backing/rabbitmq/channel-acks.js";

/** What a channel was asked to send, in order. */
function recordingChannel() {
  const sent: string[] = [];
  const channel = {
    ack: (msg: Message, allUpTo?: boolean) =>
      sent.push(`ack ${msg.fields.deliveryTag}${allUpTo ? " multiple" : ""}`),
    nack: (msg: Message, _allUpTo?: boolean, requeue?: boolean) =>
      sent.push(`nack ${msg.fields.deliveryTag}${requeue ? " requeue" : ""}`),
  } as unknown as Channel;
  return { channel, sent };
}

const message = (tag: number) => ({ fields: { deliveryTag: tag } }) as unknown as Message;

describe("ChannelAcks", () => {
  it("acks the finished run at the head with one multiple ack, and a finished message behind a running one on its own", () => {
    const { channel, sent } = recordingChannel();
    const acks = new ChannelAcks(channel, () => true);
    const [m1, m2, m3, m4, m5] = [1, 2, 3, 4, 5].map((tag) => acks.track(message(tag)));
    acks.ack(m1!);
    acks.ack(m2!);
    acks.ack(m4!);
    acks.flush();
    expect(sent).toEqual(["ack 2 multiple", "ack 4"]);

    // 3 finishes: the head moves past 3 and the already acked 4; 5 still runs.
    acks.ack(m3!);
    acks.flush();
    expect(sent.slice(2)).toEqual(["ack 3 multiple"]);
    acks.nack(m5!, true);
    acks.flush();
    expect(sent.slice(3)).toEqual(["nack 5 requeue"]);
  });

  it("never covers a running or nacked message with a multiple ack", () => {
    const { channel, sent } = recordingChannel();
    const acks = new ChannelAcks(channel, () => true);
    const [m1, m2, m3] = [1, 2, 3].map((tag) => acks.track(message(tag)));
    acks.nack(m1!, true);
    acks.ack(m3!);
    acks.flush();
    // 1 was nacked (not outstanding), 2 still runs: 3 goes alone.
    expect(sent).toEqual(["nack 1 requeue", "ack 3"]);
    acks.ack(m2!);
    acks.flush();
    expect(sent.slice(2)).toEqual(["ack 2 multiple"]);
  });

  it("sends nothing once the channel closed", () => {
    const { channel, sent } = recordingChannel();
    let open = true;
    const acks = new ChannelAcks(channel, () => open);
    const m1 = acks.track(message(1));
    acks.ack(m1);
    open = false;
    acks.flush();
    acks.nack(acks.track(message(2)), true);
    expect(sent).toEqual([]);
  });

  it("a message stuck at the head does not make the tracked list grow with every later message", () => {
    const { channel, sent } = recordingChannel();
    const acks = new ChannelAcks(channel, () => true);
    const stuck = acks.track(message(1));
    let most = 0;
    for (let tag = 2; tag <= 10_001; tag++) {
      acks.ack(acks.track(message(tag)));
      acks.flush();
      most = Math.max(most, acks.tracked);
    }
    expect(sent).toHaveLength(10_000);
    expect(new Set(sent).size).toBe(10_000);
    expect(sent.every((frame) => !frame.endsWith("multiple"))).toBe(true);
    expect(most).toBeLessThan(100);
    acks.ack(stuck);
    acks.flush();
    expect(sent.at(-1)).toBe("ack 1 multiple");
    expect(acks.tracked).toBe(0);
  });
});
