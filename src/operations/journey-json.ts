/** The JSON shape of a journey (CONTRACT §11), built only when someone asks for it. */
import type { AttemptRecord, RouteOutcome, StoredJourney } from "../backing/journey.js";

export interface AttemptJson {
  readonly at: string;
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
}

export interface RouteJson {
  readonly kind: "Trigger" | "Subscription";
  readonly name: string;
  readonly outcome: RouteOutcome;
  readonly attempts: AttemptJson[];
  readonly replyId?: string;
  readonly sink?: string;
  readonly reason?: string;
}

export interface JourneyJson {
  readonly id: string;
  readonly source: string;
  readonly namespace: string;
  readonly accepted: {
    readonly at: string | null;
    readonly address: string | null;
    readonly size: number | null;
    readonly traceId: string | null;
  };
  readonly routes: RouteJson[];
}

function attemptJson(attempt: AttemptRecord): AttemptJson {
  return {
    at: new Date(attempt.at).toISOString(),
    ...(attempt.status === undefined ? {} : { status: attempt.status }),
    ...(attempt.error === undefined ? {} : { error: attempt.error }),
    durationMs: attempt.durationMs,
  };
}

/** The trace id of a W3C `traceparent` (`00-<trace-id>-<span-id>-<flags>`). */
function traceIdOf(traceparent: string | undefined): string | null {
  const id = traceparent?.split("-")[1];
  return id !== undefined && /^[0-9a-f]{32}$/.test(id) ? id : null;
}

/**
 * `skipped` names triggers that never reported because their backing skipped the event for its
 * type: they are filtered out too. Routes come Triggers first, then by name, so output is stable.
 */
export function journeyJson(
  namespace: string,
  id: string,
  journey: StoredJourney,
  extra: { address: string | undefined; skipped: readonly string[] },
): JourneyJson {
  const routes: RouteJson[] = journey.routes.map((route) => ({
    kind: route.kind,
    name: route.name,
    outcome: route.outcome,
    attempts: (route.attempts ?? []).map(attemptJson),
    ...(route.replyId === undefined ? {} : { replyId: route.replyId }),
    ...(route.sink === undefined ? {} : { sink: route.sink }),
    ...(route.reason === undefined ? {} : { reason: route.reason }),
  }));
  for (const name of extra.skipped) {
    if (!routes.some((r) => r.kind === "Trigger" && r.name === name)) {
      routes.push({ kind: "Trigger", name, outcome: "filtered-out", attempts: [] });
    }
  }
  routes.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
  const accepted = journey.accepted;
  return {
    id,
    source: journey.source,
    namespace,
    accepted: {
      at: accepted ? new Date(accepted.at).toISOString() : null,
      address: extra.address ?? null,
      size: accepted ? accepted.size : null,
      traceId: traceIdOf(accepted?.traceparent),
    },
    routes,
  };
}
