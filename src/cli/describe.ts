/**
 * `eventail describe KIND NAME [-n NS]` (CONTRACT §1, §11): one resource as a person reads it —
 * where it listens and sends, a summary of its spec, and its conditions with their reasons, in
 * the layout of `kn ... describe` (`++` true, `!!` false, `??` unknown).
 */
import { ApiClient, type ApiClientOptions, runVerb } from "./api-client.js";
import { age, type Condition, type ResourceView } from "./get.js";

export interface DescribeOptions extends ApiClientOptions {
  namespace?: string;
}

const MARK: Record<Condition["status"], string> = { True: "++", False: "!!", Unknown: "??" };

function field(label: string, value: string | undefined): string[] {
  return value === undefined || value === "" ? [] : [`${`${label}:`.padEnd(14)}${value}`];
}

/** A spec value on one line: scalars as they are, refs as `Kind name`, the rest as JSON. */
function summary(value: unknown): string {
  if (typeof value !== "object" || value === null) return String(value);
  const ref = (value as { ref?: { kind?: string; name?: string } }).ref;
  const uri = (value as { uri?: string }).uri;
  if (ref?.kind && ref.name) return `${ref.kind} ${ref.name}${uri ? ` ${uri}` : ""}`;
  if (uri && Object.keys(value).length === 1) return uri;
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 59)}…` : json;
}

export function describeText(resource: ResourceView, now = Date.now()): string {
  const { metadata, status } = resource;
  const lines = [
    ...field("Name", metadata.name),
    ...field("Namespace", metadata.namespace),
    ...field("Kind", `${resource.kind} (${resource.apiVersion})`),
    ...field("Age", age(metadata.creationTimestamp, now)),
    ...field("Address", status?.address?.url),
    ...field("Audience", status?.address?.audience),
    ...field("Subscriber", status?.subscriberUri),
    ...field("Reply", status?.replyUri),
    ...field("Sink", status?.sinkUri),
    ...field("Dead letter", status?.deadLetterSinkUri),
  ];
  const spec = Object.entries(resource.spec ?? {});
  if (spec.length > 0) {
    lines.push("", "Spec:");
    for (const [key, value] of spec) lines.push(`  ${`${key}:`.padEnd(14)}${summary(value)}`);
  }
  const conditions = status?.conditions ?? [];
  if (conditions.length > 0) {
    const width = Math.max(4, ...conditions.map((c) => c.type.length));
    lines.push("", "Conditions:", `  OK ${"TYPE".padEnd(width)}   AGE   REASON`);
    for (const c of conditions) {
      const row = `  ${MARK[c.status]} ${c.type.padEnd(width)}   ${age(c.lastTransitionTime, now).padEnd(5)} ${c.reason ?? ""}`;
      lines.push(row.trimEnd());
      if (c.message && c.status !== "True") lines.push(`       ${c.message}`);
    }
  }
  return lines.join("\n");
}

export async function describeCommand(
  kind: string,
  name: string,
  options: DescribeOptions,
): Promise<number> {
  const client = new ApiClient(options);
  const ns = options.namespace ?? "default";
  return runVerb("describe", async () => {
    const resource = await client.get<ResourceView>(
      `/resources/${encodeURIComponent(kind)}/${encodeURIComponent(ns)}/${encodeURIComponent(name)}`,
    );
    process.stdout.write(`${describeText(resource)}\n`);
  });
}
