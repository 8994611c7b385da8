import { type Backing, channelStream } from "../backing/backing.js";
import type { JourneyRecorder } from "../backing/journey.js";
import { StreamIngress } from "../backing/stream-ingress.js";
import type { TailFeed } from "../backing/tail-feed.js";
import { CHANNEL_BACKINGS } from "../resources/broker-config.js";

/** Channel kinds and the backing each one stores its events on (the resource model's table). */
export const CHANNEL_KINDS = CHANNEL_BACKINGS;

/**
 * One channel: its ingress appends to its stream (no TTL processing, unlike a broker); each
 * subscription consumes the stream under its own name.
 */
export class ChannelRuntime extends StreamIngress {
  constructor(
    namespace: string,
    name: string,
    backing: Backing,
    bodyLimit: number,
    journeys?: JourneyRecorder,
    tail?: TailFeed,
  ) {
    super(namespace, name, backing, bodyLimit, channelStream(namespace, name), journeys, tail);
  }
}
