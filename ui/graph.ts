/**
 * The topology as nodes and edges, from the resources the API lists: sources → broker → triggers
 * → subscribers, channels → subscriptions → subscribers, with reply and dead-letter edges.
 */
import type { Resource } from "./api.js";

export interface GraphNode {
  id: string;
  kind: string;
  name: string;
  namespace: string;
  /** The listed resource; absent for a plain URI or a reference to something not declared. */
  resource?: Resource;
  uri?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: "flow" | "reply" | "dead-letter";
}

interface Destination {
  ref?: { kind?: string; name?: string; namespace?: string };
  uri?: string;
}

/** Kinds that are configuration, not part of the flow of events. */
const NOT_DRAWN = new Set(["ConfigMap", "Secret", "EventPolicy", "EventType", "Service"]);
/** Kinds whose answer is an event, sent back as a reply. */
const REPLYING = new Set(["EventTransform", "Sequence", "Parallel", "RequestReply"]);

export const nodeId = (kind: string, namespace: string, name: string) =>
  `${kind}/${namespace}/${name}`;

export function buildGraph(resources: readonly Resource[]): {
  nodes: GraphNode[];
  edges: GraphEdge[];
} {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const add = (node: GraphNode) => {
    if (!nodes.has(node.id)) nodes.set(node.id, node);
    return node.id;
  };
  for (const resource of resources) {
    if (NOT_DRAWN.has(resource.kind)) continue;
    const namespace = resource.metadata.namespace ?? "default";
    add({
      id: nodeId(resource.kind, namespace, resource.metadata.name),
      kind: resource.kind,
      name: resource.metadata.name,
      namespace,
      resource,
    });
  }
  /** The node a Destination names, made when it is a URI or a resource not listed. */
  const target = (destination: unknown, namespace: string): string | undefined => {
    const d = destination as Destination | undefined;
    if (!d) return undefined;
    if (d.ref?.kind && d.ref.name) {
      return add({
        id: nodeId(d.ref.kind, d.ref.namespace ?? namespace, d.ref.name),
        kind: d.ref.kind,
        name: d.ref.name,
        namespace: d.ref.namespace ?? namespace,
      });
    }
    if (typeof d.uri === "string") {
      return add({ id: `uri:${d.uri}`, kind: "URI", name: d.uri, namespace, uri: d.uri });
    }
    return undefined;
  };
  const edge = (from: string | undefined, to: string | undefined, kind: GraphEdge["kind"]) => {
    if (from && to && from !== to) edges.push({ from, to, kind });
  };
  const deadLetter = (from: string, spec: Record<string, unknown> | undefined, ns: string) => {
    const delivery = spec?.["delivery"] as { deadLetterSink?: unknown } | undefined;
    edge(from, target(delivery?.deadLetterSink, ns), "dead-letter");
  };

  for (const node of [...nodes.values()]) {
    const resource = node.resource;
    if (!resource) continue;
    const spec = resource.spec ?? {};
    const ns = node.namespace;
    if (resource.kind === "Trigger") {
      const broker = nodeId("Broker", ns, String(spec["broker"] ?? "default"));
      edge(broker, node.id, "flow");
      const subscriber = target(spec["subscriber"], ns);
      edge(node.id, subscriber, "flow");
      const subscriberKind = subscriber ? nodes.get(subscriber)?.kind : undefined;
      if (subscriber && subscriberKind && REPLYING.has(subscriberKind)) {
        edge(subscriber, broker, "reply");
      }
      deadLetter(node.id, spec, ns);
    } else if (resource.kind === "Subscription") {
      edge(target({ ref: spec["channel"] }, ns), node.id, "flow");
      edge(node.id, target(spec["subscriber"], ns), "flow");
      edge(node.id, target(spec["reply"], ns), "reply");
      deadLetter(node.id, spec, ns);
    } else if (resource.kind === "Broker") {
      deadLetter(node.id, spec, ns);
    } else if (spec["sink"] !== undefined) {
      // Sources (and anything else with a sink) send into it.
      edge(node.id, target(spec["sink"], ns), "flow");
    }
    if (resource.kind !== "Subscription" && spec["reply"] !== undefined) {
      edge(node.id, target(spec["reply"], ns), "reply");
    }
  }
  return { nodes: [...nodes.values()], edges };
}
