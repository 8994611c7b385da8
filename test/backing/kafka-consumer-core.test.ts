import { describe, expect, it } from "vitest";
import {
  OffsetCommitter,
  PartitionProgress,
  type PendingCommit,
} from "../../src/backing/kafka-consumer-core.js";

/** The finished-prefix rule every Kafka consumer in Eventail commits by. */

describe("kafka partition progress", () => {
  it.each<[string, number[], number[], number | undefined]>([
    ["nothing taken: nothing to commit", [], [], undefined],
    ["all taken, none finished: the first record", [5, 6, 7], [], 5],
    ["finished in order: past the last", [5, 6, 7], [5, 6, 7], 8],
    ["a later record finished first: still the first unfinished", [5, 6, 7], [7, 6], 5],
    ["the gap closes: past everything finished", [5, 6, 7], [7, 6, 5], 8],
    ["one straggler in the middle holds the commit at it", [0, 1, 2, 3, 4], [0, 2, 3, 4], 1],
    ["offsets with holes (compaction): the next taken one", [3, 9, 12], [3], 9],
  ])("%s", (_, taken, finished, committable) => {
    const progress = new PartitionProgress("t", 0);
    for (const offset of taken) progress.take(offset);
    for (const offset of finished) progress.finish(offset);
    expect(progress.committable).toBe(committable);
  });

  it("refuses records it already took (a repeated fetch) and keeps fetching after the last", () => {
    const progress = new PartitionProgress("t", 3);
    expect([10, 11, 12].map((offset) => progress.take(offset))).toEqual([true, true, true]);
    expect([11, 12].map((offset) => progress.take(offset))).toEqual([false, false]);
    expect(progress.nextFetch).toBe(13);
  });

  it("proposes a commit only when the offset or the started mark moved", () => {
    const progress = new PartitionProgress("t", 0);
    progress.take(0);
    progress.take(1);
    progress.start(0);
    const first = progress.pendingCommit();
    expect(first).toEqual({ offset: 0, startedEnd: 1 });
    progress.committed(first!);
    expect(progress.pendingCommit()).toBeUndefined();
    progress.finish(0);
    expect(progress.pendingCommit()).toEqual({ offset: 1, startedEnd: 1 });
    progress.revoked = true;
    expect(progress.pendingCommit()).toBeUndefined();
  });
});

/** A committer over two partitions whose sends are recorded and may be made to fail. */
function committerOver(retryDelayMs?: number) {
  const partitions = [new PartitionProgress("t", 0), new PartitionProgress("t", 1)];
  const sent: Array<Array<[number, number]>> = [];
  let failures = 0;
  let release: () => void = () => {};
  let gate: Promise<void> | undefined;
  const committer = new OffsetCommitter({
    partitions: () => partitions,
    send: async (commits: readonly PendingCommit[]) => {
      await gate;
      if (failures > 0) {
        failures--;
        throw new Error("not the coordinator");
      }
      sent.push(commits.map(({ progress, commit }) => [progress.partition, commit.offset]));
    },
    onFailure: () => {},
    ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
  });
  return {
    partitions,
    sent,
    committer,
    failNext: (count: number) => {
      failures = count;
    },
    hold: () => {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
  };
}

describe("kafka offset committer", () => {
  it("folds requests made during a commit into one next commit of every partition", async () => {
    const { partitions, sent, committer, hold, release } = committerOver();
    const [zero, one] = partitions as [PartitionProgress, PartitionProgress];
    zero.take(0);
    zero.finish(0);
    hold();
    committer.request();
    for (const offset of [1, 2, 3]) {
      zero.take(offset);
      zero.finish(offset);
      committer.request();
    }
    one.take(7);
    committer.request();
    release();
    await committer.drain();
    expect(sent).toEqual([
      [[0, 1]],
      [
        [0, 4],
        [1, 7],
      ],
    ]);
  });

  it.each<[string, number | undefined, number[][][]]>([
    ["without a retry delay a failed commit waits for the next request", undefined, []],
    ["with a retry delay a failed commit is tried again", 5, [[[0, 1]]]],
  ])("%s", async (_, retryDelayMs, expected) => {
    const { partitions, sent, committer, failNext } = committerOver(retryDelayMs);
    partitions[0]!.take(0);
    partitions[0]!.finish(0);
    failNext(1);
    committer.request();
    await committer.drain();
    expect(sent).toEqual(expected);
    committer.request();
    await committer.drain();
    expect(sent).toEqual([[[0, 1]]]);
  });

  it("takes no requests after close, which makes one last commit", async () => {
    const { partitions, sent, committer } = committerOver(5);
    partitions[1]!.take(3);
    partitions[1]!.finish(3);
    await committer.close(1_000);
    expect(sent).toEqual([[[1, 4]]]);
    partitions[1]!.take(4);
    partitions[1]!.finish(4);
    committer.request();
    await committer.drain();
    expect(sent).toEqual([[[1, 4]]]);
  });
});
