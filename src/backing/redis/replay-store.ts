/**
 * Replay progress on Redis (CONTRACT §11): one string per replay, `eventail:replay:<id>`, holding
 * its JSON record, kept a week after its last write, so any process of a scale-out, or the same
 * one after a restart, answers GET /api/v1/replay/{id}.
 */
import type { Redis } from "ioredis";
import type { ReplayRecord, ReplayStore } from "../backing.js";

const KEPT_MS = 7 * 24 * 60 * 60 * 1000;

export function replayKey(id: string): string {
  return `eventail:replay:${id}`;
}

export class RedisReplayStore implements ReplayStore {
  constructor(private readonly commands: Redis) {}

  async save(record: ReplayRecord): Promise<void> {
    await this.commands.set(replayKey(record.id), JSON.stringify(record), "PX", KEPT_MS);
  }

  async load(id: string): Promise<ReplayRecord | undefined> {
    const text = await this.commands.get(replayKey(id));
    return text === null ? undefined : (JSON.parse(text) as ReplayRecord);
  }
}
