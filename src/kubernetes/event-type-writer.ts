/**
 * The leader creates, in the cluster, the EventTypes the runtime auto-created (CONTRACT §11, §13:
 * `eventtype-auto-create: enabled` in config-features). Each is created once, named as the
 * runtime names it; one already there (another leader made it, or a user) is left as it is.
 * Counts and last-seen times stay in the runtime (`eventail get eventtypes`): writing them on
 * every event would turn traffic into API writes.
 */
import type { Logger } from "../observability/logger.js";
import type { RunningEventail } from "../runtime/eventail.js";
import { collectionPath, isStatus, type KubeRest } from "./kube-rest.js";

const AUTO_CREATED_LABEL = "eventail.io/auto-created";

interface EventTypeView {
  apiVersion: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export class EventTypeWriter {
  private readonly created = new Set<string>();

  constructor(
    private readonly rest: KubeRest,
    private readonly runtime: RunningEventail,
    private readonly logger: Logger,
  ) {}

  async write(): Promise<void> {
    const views = (await this.runtime.eventTypes.list()) as unknown as EventTypeView[];
    for (const view of views) {
      if (view.metadata.labels?.[AUTO_CREATED_LABEL] !== "true") continue;
      const { namespace, name } = view.metadata;
      const id = `${namespace}/${name}`;
      if (this.created.has(id)) continue;
      try {
        await this.rest.create(collectionPath(view.apiVersion, "eventtypes", namespace), {
          apiVersion: view.apiVersion,
          kind: "EventType",
          metadata: { name, namespace, labels: { [AUTO_CREATED_LABEL]: "true" } },
          spec: view.spec,
        });
        this.created.add(id);
      } catch (error) {
        if (isStatus(error, 409)) this.created.add(id);
        else {
          this.logger.warn(
            { eventType: id, reason: (error as Error).message },
            "EventType not created",
          );
        }
      }
    }
  }
}
