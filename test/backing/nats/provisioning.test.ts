import type { ConsumerInfo } from "nats";
import { describe, expect, it } from "vitest";
import { resumeSequence } from "../../../src/backing/nats/provisioning.js";

function consumer(
  filter: string | undefined,
  delivered: number,
  ackFloor: number,
  ackPending: number,
): ConsumerInfo {
  return {
    config: filter === undefined ? {} : { filter_subject: filter },
    delivered: { stream_seq: delivered },
    ack_floor: { stream_seq: ackFloor },
    num_ack_pending: ackPending,
  } as unknown as ConsumerInfo;
}

describe("NATS consumer replaced for a new filter", () => {
  it.each<[string, ConsumerInfo, string | undefined, number]>([
    ["a dropped filter brings back what was unfinished", consumer("a", 9, 6, 2), undefined, 7],
    ["a first filter brings back what was unfinished", consumer(undefined, 9, 6, 2), "b", 7],
    ["another type goes on after the last delivery", consumer("a", 9, 6, 2), "b", 10],
    ["nothing unfinished: after the last delivery", consumer("a", 9, 9, 0), undefined, 10],
    ["never acked, nothing pending: not from the start", consumer("a", 9, 0, 0), undefined, 10],
    ["never acked, one pending: from the start", consumer(undefined, 9, 0, 1), "b", 1],
  ])("%s", (_, existing, filter, expected) => {
    expect(resumeSequence(existing, filter)).toBe(expected);
  });
});
