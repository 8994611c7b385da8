import { randomUUID } from "node:crypto";
import { type CloudEvent, createEvent } from "../../events/event.js";

/** A Kubernetes object as JSON. */
export type KubeObject = Readonly<Record<string, unknown>> & {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: ReadonlyArray<{
      readonly apiVersion?: string;
      readonly kind?: string;
    }>;
  };
};

export type ChangeKind = "add" | "update" | "delete";
export type Mode = "Reference" | "Resource";

/** What a watched resource is: its apiVersion and kind, and what discovery said about it. */
export interface ResourceInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** `dev.knative.apiserver.resource.add`, `dev.knative.apiserver.ref.delete`, … */
export function apiServerEventType(mode: Mode, change: ChangeKind): string {
  return `dev.knative.apiserver.${mode === "Resource" ? "resource" : "ref"}.${change}`;
}

/**
 * Knative's subject: the object's self link as `/apis/{apiVersion}/namespaces/{ns}/{plural}/{name}`
 * (core objects included, `/apis/v1/...`, as Knative writes it); cluster-scoped objects have no
 * namespaces segment.
 */
export function selfLink(info: ResourceInfo, namespace: string | undefined, name: string): string {
  const scope = info.namespaced && namespace ? `/namespaces/${namespace}` : "";
  return `/apis/${info.apiVersion}${scope}/${info.plural}/${name}`;
}

/**
 * The event for one change, as Knative's ApiServerSource sends it: the object (Resource mode) or
 * a reference to it (Reference mode) as JSON data, and the object's kind, name and namespace as
 * extensions so triggers can filter on them.
 */
export function apiServerEvent(
  mode: Mode,
  change: ChangeKind,
  object: KubeObject,
  info: ResourceInfo,
  apiServerUrl: string,
  extensions: Readonly<Record<string, string>> = {},
): CloudEvent {
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace;
  const reference = {
    apiVersion: info.apiVersion,
    kind: info.kind,
    name,
    ...(namespace ? { namespace } : {}),
  };
  const data = mode === "Resource" ? object : reference;
  return createEvent(
    {
      specversion: "1.0",
      id: randomUUID(),
      type: apiServerEventType(mode, change),
      source: apiServerUrl,
      subject: selfLink(info, namespace, name),
      datacontenttype: "application/json",
      kind: info.kind,
      name,
      ...(namespace ? { namespace } : {}),
      ...extensions,
    },
    Buffer.from(JSON.stringify(data), "utf8"),
  );
}
