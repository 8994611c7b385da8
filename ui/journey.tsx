/** An event's journey by id: where it was accepted and what each route did, as a timeline. */
import { useEffect, useState } from "preact/hooks";
import { ApiError, callJson } from "./api.js";

interface Attempt {
  at: string;
  status?: number;
  error?: string;
  durationMs?: number;
}

interface Route {
  kind: string;
  name: string;
  outcome: string;
  attempts?: Attempt[];
  replyId?: string;
  sink?: string;
  reason?: string;
}

interface JourneyJson {
  id: string;
  source: string;
  namespace: string;
  accepted?: { at: string; address: string; size?: number; traceId?: string };
  routes: Route[];
}

export interface JourneyQuery {
  namespace: string;
  id: string;
  source?: string;
}

function offset(at: string, from: string | undefined): string {
  if (!from) return at;
  const ms = Date.parse(at) - Date.parse(from);
  return Number.isFinite(ms) ? `+${ms} ms` : at;
}

export function Journey(props: { query?: JourneyQuery; onSearch: (query: JourneyQuery) => void }) {
  const [namespace, setNamespace] = useState(props.query?.namespace ?? "default");
  const [id, setId] = useState(props.query?.id ?? "");
  const [source, setSource] = useState(props.query?.source ?? "");
  const [journey, setJourney] = useState<JourneyJson | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [sources, setSources] = useState<string[]>([]);

  useEffect(() => {
    const query = props.query;
    setJourney(undefined);
    setError(undefined);
    setSources([]);
    if (!query?.id) return;
    setNamespace(query.namespace);
    setId(query.id);
    setSource(query.source ?? "");
    const path = `/api/v1/events/${encodeURIComponent(query.namespace)}/${encodeURIComponent(query.id)}${query.source ? `?source=${encodeURIComponent(query.source)}` : ""}`;
    callJson<JourneyJson>(path)
      .then(setJourney)
      .catch((e: Error) => {
        setError(e.message);
        if (e instanceof ApiError && e.status === 409) {
          const body = e.body as { sources?: unknown } | undefined;
          if (Array.isArray(body?.sources)) setSources(body.sources.map(String));
        }
      });
  }, [props.query?.namespace, props.query?.id, props.query?.source]);

  return (
    <section aria-labelledby="journey-title" class="view">
      <h1 id="journey-title">Event journey</h1>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          const trimmed = source.trim();
          props.onSearch({
            namespace: namespace.trim() || "default",
            id: id.trim(),
            ...(trimmed ? { source: trimmed } : {}),
          });
        }}
      >
        <label>
          Namespace
          <input value={namespace} onInput={(e) => setNamespace(e.currentTarget.value)} required />
        </label>
        <label class="grow">
          Event id
          <input name="id" value={id} onInput={(e) => setId(e.currentTarget.value)} required />
        </label>
        <label>
          Source (optional)
          <input value={source} onInput={(e) => setSource(e.currentTarget.value)} />
        </label>
        <button type="submit">Find</button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {sources.length > 0 && (
        <p>
          Several sources sent this id:{" "}
          {sources.map((s) => (
            <button
              type="button"
              class="link"
              key={s}
              onClick={() => props.onSearch({ namespace, id, source: s })}
            >
              {s}
            </button>
          ))}
        </p>
      )}
      {journey && (
        <ol class="timeline" aria-label={`Journey of ${journey.id}`}>
          <li class="step">
            <span class="badge outcome-accepted">accepted</span> {journey.accepted?.at ?? "?"} at{" "}
            {journey.accepted?.address ?? "?"} ({journey.accepted?.size ?? "?"} bytes) · source{" "}
            {journey.source}
            {journey.accepted?.traceId ? ` · trace ${journey.accepted.traceId}` : ""}
          </li>
          {journey.routes.map((route) => (
            <li class="step" key={`${route.kind}/${route.name}`} data-route={route.name}>
              <span class={`badge outcome-${route.outcome}`}>{route.outcome}</span> {route.kind}{" "}
              <strong>{route.name}</strong>
              {route.reason ? ` — ${route.reason}` : ""}
              {route.sink ? ` → ${route.sink}` : ""}
              {route.replyId ? (
                <>
                  {" "}
                  · reply{" "}
                  <button
                    type="button"
                    class="link"
                    onClick={() =>
                      props.onSearch({ namespace: journey.namespace, id: route.replyId! })
                    }
                  >
                    {route.replyId}
                  </button>
                </>
              ) : null}
              {route.attempts && route.attempts.length > 0 && (
                <ul class="attempts">
                  {route.attempts.map((a, i) => (
                    <li key={`${a.at}-${i}`}>
                      attempt {i + 1} at {offset(a.at, journey.accepted?.at)}:{" "}
                      {a.status !== undefined ? `HTTP ${a.status}` : (a.error ?? "?")}
                      {a.durationMs !== undefined ? ` in ${a.durationMs} ms` : ""}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
