import { PingSource, type PingSourceSpec } from "./ping/ping-source.js";
import type { SourceKind } from "./registry.js";

const pingSource: SourceKind = {
  kind: "PingSource",
  create: (resource, context) =>
    new PingSource(
      context.namespace,
      context.name,
      resource.spec as PingSourceSpec,
      context.logger,
    ),
};

/** Every source kind the reconciler runs. */
export const SOURCE_KINDS: readonly SourceKind[] = [pingSource];
