import type { Dispatcher } from "../delivery/dispatcher.js";
import type { Logger } from "../observability/logger.js";
import { NoticeOnce } from "../observability/notice-once.js";
import { isMissingReference } from "../resources/missing-reference.js";
import type { Destination, EventTransformResource } from "../resources/types.js";
import {
  type EventTransformConfig,
  EventTransformRuntime,
  type ReplyHandling,
} from "./event-transform.js";
import { compileTransformation } from "./event-transform-expression.js";

export interface EventTransformSetDeps {
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
}

/**
 * The running EventTransforms, one per resource. Expressions are compiled once per resource
 * version: an unchanged resource keeps its runtime across reconciles.
 */
export class EventTransformSet {
  private readonly running = new Map<string, { version: string; runtime: EventTransformRuntime }>();
  private readonly notices = new NoticeOnce();

  constructor(private readonly deps: EventTransformSetDeps) {}

  get(namespace: string, name: string): EventTransformRuntime | undefined {
    return this.running.get(`${namespace}/${name}`)?.runtime;
  }

  /** Returns false when one could not be built (its expression no longer compiles). */
  async reconcile(
    resources: readonly EventTransformResource[],
    resolve: (destination: Destination, namespace: string) => string,
  ): Promise<boolean> {
    const wanted = new Set<string>();
    let complete = true;
    for (const resource of resources) {
      const { namespace, name } = resource.metadata;
      const key = `${namespace}/${name}`;
      wanted.add(key);
      try {
        const sink = resource.spec.sink;
        const sinkUrl = sink === undefined ? undefined : resolve(sink, namespace);
        const version = JSON.stringify([resource.spec, sinkUrl ?? null]);
        if (this.running.get(key)?.version === version) continue;
        const config = await this.configOf(resource, sinkUrl);
        this.running.set(key, { version, runtime: new EventTransformRuntime(this.deps, config) });
        this.notices.forget(key);
        this.deps.logger.info({ eventTransform: key, sink: sinkUrl }, "event transform ready");
      } catch (error) {
        this.running.delete(key);
        if (isMissingReference(error)) {
          // Its sink is not among the manifests: not served (404) until a reload adds it.
          if (this.notices.first(key, error.message)) {
            this.deps.logger.warn(
              { eventTransform: key, missing: error.message },
              "event transform waits: its sink is not among the manifests",
            );
          }
          continue;
        }
        // Validation parses every expression first, so only a bug or a changed JSONata gets here.
        this.deps.logger.error(
          { err: error, eventTransform: key },
          "event transform could not start",
        );
        complete = false;
      }
    }
    for (const key of this.running.keys()) if (!wanted.has(key)) this.running.delete(key);
    this.notices.keepOnly(wanted);
    return complete;
  }

  private async configOf(
    resource: EventTransformResource,
    sinkUrl: string | undefined,
  ): Promise<EventTransformConfig> {
    const { spec, metadata } = resource;
    const transformation = await compileTransformation(
      spec.jsonata?.expression ?? "",
      "spec.jsonata",
    );
    let reply: ReplyHandling = { kind: "pass" };
    if (spec.reply?.discard === true) reply = { kind: "discard" };
    else if (spec.reply?.jsonata?.expression !== undefined) {
      reply = {
        kind: "transform",
        transformation: await compileTransformation(
          spec.reply.jsonata.expression,
          "spec.reply.jsonata",
        ),
      };
    }
    return {
      namespace: metadata.namespace,
      name: metadata.name,
      transformation,
      ...(sinkUrl === undefined ? {} : { sinkUrl }),
      reply,
    };
  }
}
