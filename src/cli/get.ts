/**
 * `eventail get KIND [NAME] [-n NS] [-A] [-o table|yaml|json]` (CONTRACT §1, §11): resources with
 * their status, as Knative's `kn` lists them — NAME, where events go, AGE, READY, REASON — in a
 * table that fits 80 columns.
 */
import { ApiClient, type ApiClientOptions, ApiError, runVerb } from "./api-client.js";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** A resource as the operations API answers it. */
export interface ResourceView {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; creationTimestamp?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    address?: { url: string; audience?: string };
    subscriberUri?: string;
    replyUri?: string;
    deadLetterSinkUri?: string;
    sinkUri?: string;
    observedGeneration?: number;
  };
  [k: string]: unknown;
}

export interface GetOptions extends ApiClientOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
}

export const OUTPUTS = ["table", "yaml", "json"] as const;
const EVENT_TYPE_NAMES = new Set(["eventtype", "eventtypes"]);
const WIDTH = 80;
const GAP = "  ";

/** `3s`, `5m`, `2h`, `4d`, as kn and kubectl print ages. */
export function age(since: string | undefined, now = Date.now()): string {
  if (since === undefined) return "";
  const seconds = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function readyOf(resource: ResourceView): Condition | undefined {
  return resource.status?.conditions?.find((c) => c.type === "Ready");
}

interface Column {
  readonly title: string;
  readonly cell: (r: ResourceView) => string;
  /** The column that gives way (truncated) when the table is too wide. */
  readonly flexible?: boolean;
}

const name: Column = { title: "NAME", cell: (r) => r.metadata.name };
const namespace: Column = { title: "NAMESPACE", cell: (r) => r.metadata.namespace };
const tail: Column[] = [
  { title: "AGE", cell: (r) => age(r.metadata.creationTimestamp) },
  { title: "READY", cell: (r) => readyOf(r)?.status ?? "" },
  { title: "REASON", cell: (r) => readyOf(r)?.reason ?? "" },
];

function columnsFor(kind: string): Column[] {
  const spec = (r: ResourceView, field: string) => {
    const value = r.spec?.[field];
    if (typeof value === "string") return value;
    const ref = value as { name?: unknown } | undefined;
    return typeof ref?.name === "string" ? ref.name : "";
  };
  if (kind === "Trigger") {
    return [
      name,
      { title: "BROKER", cell: (r) => spec(r, "broker") || spec(r, "brokerRef") },
      { title: "SUBSCRIBER", cell: (r) => r.status?.subscriberUri ?? "", flexible: true },
      ...tail,
    ];
  }
  if (kind === "EventType") {
    const attribute = (r: ResourceView, key: string) => {
      const value = r.spec?.[key];
      if (typeof value === "string") return value;
      const attributes = r.spec?.["attributes"] as { name?: string; value?: string }[] | undefined;
      return attributes?.find((a) => a.name === key)?.value ?? "";
    };
    const annotation = (r: ResourceView, key: string) =>
      (r.metadata["annotations"] as Record<string, string> | undefined)?.[key] ?? "";
    return [
      name,
      { title: "TYPE", cell: (r) => attribute(r, "type") },
      { title: "SOURCE", cell: (r) => attribute(r, "source"), flexible: true },
      { title: "BROKER", cell: (r) => spec(r, "broker") || spec(r, "reference") },
      // COUNT in place of AGE and REASON: the type is what a reader came for, and it is long.
      { title: "COUNT", cell: (r) => annotation(r, "eventail.io/count") },
      tail[1]!,
    ];
  }
  if (kind === "Subscription") {
    return [
      name,
      { title: "CHANNEL", cell: (r) => spec(r, "channel") },
      { title: "SUBSCRIBER", cell: (r) => r.status?.subscriberUri ?? "", flexible: true },
      ...tail,
    ];
  }
  return [
    name,
    {
      title: "URL",
      cell: (r) => r.status?.address?.url ?? r.status?.sinkUri ?? r.status?.subscriberUri ?? "",
      flexible: true,
    },
    ...tail,
  ];
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** Colours only on a terminal that wants them (NO_COLOR is honoured). */
function paint(ready: string, padded: string, colour: boolean): string {
  if (!colour) return padded;
  const code = ready === "True" ? 32 : ready === "False" ? 31 : 33;
  return `\u001b[${code}m${padded}\u001b[0m`;
}

/** The rows under their titles, the flexible column cut so the table fits `width`. */
export function table(
  resources: readonly ResourceView[],
  options: { allNamespaces?: boolean; colour?: boolean; width?: number } = {},
): string {
  const kinds = new Set(resources.map((r) => r.kind));
  const base = columnsFor(kinds.size === 1 ? [...kinds][0]! : "");
  const columns = options.allNamespaces ? [namespace, ...base] : base;
  const rows = resources.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((row) => row[i]!.length)),
  );
  const total = widths.reduce((a, b) => a + b, 0) + GAP.length * (columns.length - 1);
  const flexible = columns.findIndex((c) => c.flexible);
  const limit = options.width ?? WIDTH;
  if (total > limit && flexible !== -1) {
    widths[flexible] = Math.max(
      columns[flexible]!.title.length,
      widths[flexible]! - (total - limit),
    );
  }
  const readyAt = columns.findIndex((c) => c.title === "READY");
  const line = (cells: string[], header: boolean) =>
    cells
      .map((cell, i) => {
        const padded = truncate(cell, widths[i]!).padEnd(i === cells.length - 1 ? 0 : widths[i]!);
        return !header && i === readyAt ? paint(cell, padded, options.colour ?? false) : padded;
      })
      .join(GAP)
      .trimEnd();
  return [
    line(
      columns.map((c) => c.title),
      true,
    ),
    ...rows.map((row) => line(row, false)),
  ].join("\n");
}

export async function printResources(
  resources: ResourceView[] | ResourceView,
  output: string,
  tableOptions: Parameters<typeof table>[1],
): Promise<string> {
  if (output === "json") {
    return JSON.stringify(Array.isArray(resources) ? { items: resources } : resources, null, 2);
  }
  if (output === "yaml") {
    const { stringify } = await import("yaml");
    return stringify(Array.isArray(resources) ? { items: resources } : resources).trimEnd();
  }
  return table(Array.isArray(resources) ? resources : [resources], tableOptions);
}

export async function getCommand(
  kind: string,
  resourceName: string | undefined,
  options: GetOptions,
): Promise<number> {
  const output = options.output ?? "table";
  if (!(OUTPUTS as readonly string[]).includes(output)) {
    process.stderr.write(`eventail get: -o must be one of ${OUTPUTS.join(", ")}, not ${output}\n`);
    return 2;
  }
  if (resourceName !== undefined && options.allNamespaces) {
    process.stderr.write("eventail get: a NAME needs one namespace (-n), not -A\n");
    return 2;
  }
  const client = new ApiClient(options);
  const ns = options.namespace ?? "default";
  const colour = process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined;
  return runVerb("get", async () => {
    let text: string;
    if (resourceName !== undefined && EVENT_TYPE_NAMES.has(kind.toLowerCase())) {
      // Auto-created EventTypes are not resources: the registry's list holds them all.
      const query = new URLSearchParams({ namespace: ns });
      const { items } = await client.get<{ items: ResourceView[] }>(`/eventtypes?${query}`);
      const one = items.find((item) => item.metadata.name === resourceName);
      if (one === undefined) {
        throw new ApiError(`EventType ${ns}/${resourceName} does not exist`, 404);
      }
      text = await printResources(one, output, { colour });
    } else if (resourceName !== undefined) {
      const one = await client.get<ResourceView>(
        `/resources/${encodeURIComponent(kind)}/${encodeURIComponent(ns)}/${encodeURIComponent(resourceName)}`,
      );
      text = await printResources(one, output, { colour });
    } else {
      const query = new URLSearchParams({ kind });
      if (!options.allNamespaces) query.set("namespace", ns);
      // EventTypes come from the registry, which adds those created on first sight.
      const registry = EVENT_TYPE_NAMES.has(kind.toLowerCase());
      if (registry) query.delete("kind");
      const { items } = await client.get<{ items: ResourceView[] }>(
        registry ? `/eventtypes?${query}` : `/resources?${query}`,
      );
      if (items.length === 0 && output === "table") {
        const where = options.allNamespaces ? "" : ` in namespace ${ns}`;
        process.stderr.write(`No ${kind} found${where}.\n`);
        return;
      }
      text = await printResources(items, output, {
        colour,
        ...(options.allNamespaces ? { allNamespaces: true } : {}),
      });
    }
    process.stdout.write(`${text}\n`);
  });
}
