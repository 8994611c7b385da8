import type {
  Backing,
  ConsumeHandler,
  SubscribeOptions,
  Subscription,
} from "../../src/backing/backing.js";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import type { CloudEvent } from "../../src/events/event.js";
import { describeBackingConformance } from "./backing-suite.js";
import { testEvent } from "./conformance-support.js";

/** Every event of the suite carries this type (testEvent's default). */
const SUITE_TYPE = String(testEvent("probe").attributes["type"]);

/**
 * The memory backing as a broker of type-filtered triggers sees it: every consumer hints the
 * suite's type, and every published event comes with a decoy of another type before it. The
 * suite counts exactly what each handler got, so a decoy reaching a handler, or a hinted
 * consumer losing position, sharing, ordering or redelivery, fails it.
 */
class HintedMemoryBacking implements Backing {
  readonly kind = "memory";
  private decoys = 0;

  constructor(private readonly inner: MemoryBacking) {}

  publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    return this.inner.publish(
      stream,
      events.flatMap((event) => [this.decoy(event), event]),
    );
  }

  subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    return this.inner.subscribe(stream, name, handler, { ...options, typeHint: SUITE_TYPE });
  }

  removeConsumer(stream: string, name: string): Promise<void> {
    return this.inner.removeConsumer(stream, name);
  }

  removeStream(stream: string): Promise<void> {
    return this.inner.removeStream(stream);
  }

  ready(): Promise<boolean> {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private decoy(event: CloudEvent): CloudEvent {
    return testEvent(`decoy-${this.decoys++}`, {
      type: `${SUITE_TYPE}.decoy`,
      ...(event.attributes["partitionkey"] === undefined
        ? {}
        : { partitionkey: event.attributes["partitionkey"] }),
    });
  }
}

describeBackingConformance(
  "memory (type-hinted consumers, decoy events of other types)",
  async () => ({ backing: new HintedMemoryBacking(new MemoryBacking()) }),
  { redeliveryTimeoutMs: 2_000 },
);
