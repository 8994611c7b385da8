/**
 * `GET /api/v1/resources[?kind=K&namespace=NS]` and `GET /api/v1/resources/{kind}/{ns}/{name}`
 * (CONTRACT §11): every resource with its Knative status. Kinds are case-insensitive and plurals
 * are accepted; Secret values never leave the process.
 */
import type { FastifyInstance } from "fastify";
import { knownKinds } from "../resources/schema.js";
import type { ResourceWithStatus } from "../resources/status.js";
import type { SecretResource } from "../resources/types.js";
import type { ApiDeps } from "./api.js";
import { HttpError } from "./errors.js";

export const REDACTED = "<redacted>";
/** kubectl keeps the whole applied manifest here, Secret values included. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The kind a user means by `name` (`brokers`, `Broker`, `broker`), among the known kinds and those
 * in `present` (derived kinds included); undefined when none.
 */
export function kindNamed(name: string, present: Iterable<string> = []): string | undefined {
  const wanted = name.toLowerCase();
  const candidates = new Map<string, string>();
  for (const [kind, info] of knownKinds()) {
    candidates.set(kind.toLowerCase(), kind);
    candidates.set(info.plural.toLowerCase(), kind);
  }
  for (const kind of present) {
    const lower = kind.toLowerCase();
    candidates.set(lower, kind);
    candidates.set(lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s`, kind);
  }
  return candidates.get(wanted);
}

function redacted(values: Readonly<Record<string, string>> | undefined) {
  if (values === undefined) return undefined;
  return Object.fromEntries(Object.keys(values).map((key) => [key, REDACTED]));
}

/** The JSON a client sees: the manifest's fields, the status, and no Secret value. */
export function resourceView(entry: ResourceWithStatus): Record<string, unknown> {
  const { resource, status, firstSeen } = entry;
  const secret = resource.kind === "Secret" && resource.apiVersion === "v1";
  const annotations = resource.metadata.annotations;
  const metadata = {
    ...resource.metadata,
    ...(secret && annotations?.[LAST_APPLIED] !== undefined
      ? { annotations: { ...annotations, [LAST_APPLIED]: REDACTED } }
      : {}),
    creationTimestamp: firstSeen,
  };
  const view: Record<string, unknown> = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata,
  };
  if (resource.spec !== undefined) view["spec"] = resource.spec;
  if (secret) {
    const { data, stringData, type } = resource as SecretResource;
    if (data) view["data"] = redacted(data);
    if (stringData) view["stringData"] = redacted(stringData);
    if (type) view["type"] = type;
  } else if (resource.data !== undefined) {
    view["data"] = resource.data;
  }
  view["status"] = status;
  return view;
}

function knownKind(name: string, entries: readonly ResourceWithStatus[]): string {
  const kind = kindNamed(
    name,
    entries.map((e) => e.resource.kind),
  );
  if (kind === undefined) throw new HttpError("NOT_FOUND", `no kind of resource is named ${name}`);
  return kind;
}

export function resourceRoutes(api: FastifyInstance, deps: ApiDeps): void {
  api.get("/resources", async (request) => {
    const query = request.query as { kind?: unknown; namespace?: unknown };
    const all = deps.resources.list();
    const kind =
      typeof query.kind === "string" && query.kind !== "" ? knownKind(query.kind, all) : undefined;
    const namespace =
      typeof query.namespace === "string" && query.namespace !== "" ? query.namespace : undefined;
    const items = all.filter(
      ({ resource }) =>
        (kind === undefined || resource.kind === kind) &&
        (namespace === undefined || resource.metadata.namespace === namespace),
    );
    return { items: items.map(resourceView) };
  });

  api.get("/resources/:kind/:namespace/:name", async (request) => {
    const params = request.params as { kind: string; namespace: string; name: string };
    const kind = knownKind(params.kind, deps.resources.list());
    const found = deps.resources.get(kind, params.namespace, params.name);
    if (!found) {
      throw new HttpError("NOT_FOUND", `${kind} ${params.namespace}/${params.name} does not exist`);
    }
    return resourceView(found);
  });
}
