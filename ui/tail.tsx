/** The live tail: events and their outcomes as they happen, a CESQL filter, pause and resume. */
import { useEffect, useRef, useState } from "preact/hooks";
import { readSse } from "./api.js";

interface Row {
  key: number;
  type: "cloudevent" | "outcome" | "dropped";
  at: string;
  text: string;
  id?: string;
  source?: string;
  payload: string;
}

const MAX_ROWS = 500;
let rowKey = 0;

function toRow(event: string, data: string): Row | undefined {
  const at = new Date().toLocaleTimeString();
  try {
    const body = JSON.parse(data) as Record<string, unknown>;
    if (event === "cloudevent") {
      return {
        key: rowKey++,
        type: "cloudevent",
        at,
        id: String(body["id"]),
        source: String(body["source"]),
        text: `${body["type"]} from ${body["source"]} (id ${body["id"]})`,
        payload: JSON.stringify(body, null, 2),
      };
    }
    if (event === "outcome") {
      const status = body["status"] === undefined ? "" : ` HTTP ${body["status"]}`;
      return {
        key: rowKey++,
        type: "outcome",
        at,
        id: String(body["id"]),
        source: String(body["source"]),
        text: `${body["kind"]} ${body["name"]}: ${body["outcome"]}${status} (id ${body["id"]}, attempt ${body["attempt"]})`,
        payload: JSON.stringify(body, null, 2),
      };
    }
    if (event === "dropped") {
      return {
        key: rowKey++,
        type: "dropped",
        at,
        text: `${body["count"]} messages missed: the console read too slowly`,
        payload: data,
      };
    }
  } catch {
    // A message the console does not know is left out.
  }
  return undefined;
}

export function Tail(props: {
  onJourney: (namespace: string, id: string, source?: string) => void;
}) {
  const [namespace, setNamespace] = useState("");
  const [broker, setBroker] = useState("");
  const [filter, setFilter] = useState("");
  const [applied, setApplied] = useState({ namespace: "", broker: "", filter: "" });
  const [rows, setRows] = useState<Row[]>([]);
  const [paused, setPaused] = useState(false);
  const [held, setHeld] = useState(0);
  const [state, setState] = useState<"connecting" | "live" | "closed">("connecting");
  const [error, setError] = useState<string | undefined>();
  const pausedRef = useRef(false);
  const heldRows = useRef<Row[]>([]);

  useEffect(() => {
    const abort = new AbortController();
    const query = new URLSearchParams();
    if (applied.namespace) query.set("namespace", applied.namespace);
    if (applied.broker) query.set("broker", applied.broker);
    if (applied.filter) query.set("filter", applied.filter);
    setState("connecting");
    setError(undefined);
    readSse(
      `/api/v1/tail${query.size ? `?${query}` : ""}`,
      abort.signal,
      (message) => {
        const row = toRow(message.event, message.data);
        if (!row) return;
        if (pausedRef.current) {
          heldRows.current.push(row);
          setHeld(heldRows.current.length);
        } else {
          setRows((list) => [row, ...list].slice(0, MAX_ROWS));
        }
      },
      () => setState("live"),
    )
      .then(() => {
        if (!abort.signal.aborted) setState("closed");
      })
      .catch((e: Error) => {
        if (abort.signal.aborted) return;
        setState("closed");
        setError(e.message);
      });
    return () => {
      abort.abort();
    };
  }, [applied]);

  const togglePause = () => {
    const next = !paused;
    pausedRef.current = next;
    setPaused(next);
    if (!next) {
      const waiting = heldRows.current.reverse();
      heldRows.current = [];
      setHeld(0);
      setRows((list) => [...waiting, ...list].slice(0, MAX_ROWS));
    }
  };

  return (
    <section aria-labelledby="tail-title" class="view">
      <h1 id="tail-title">Live tail</h1>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          setApplied({ namespace: namespace.trim(), broker: broker.trim(), filter: filter.trim() });
        }}
      >
        <label>
          Namespace
          <input
            value={namespace}
            onInput={(e) => setNamespace(e.currentTarget.value)}
            placeholder="all"
          />
        </label>
        <label>
          Broker
          <input
            value={broker}
            onInput={(e) => setBroker(e.currentTarget.value)}
            placeholder="all"
          />
        </label>
        <label class="grow">
          CESQL filter
          <input
            name="filter"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
            placeholder="type LIKE 'dev.example.%'"
            aria-invalid={error !== undefined}
            aria-describedby={error ? "tail-error" : undefined}
          />
        </label>
        <button type="submit">Apply</button>
        <button type="button" onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume${held ? ` (${held} waiting)` : ""}` : "Pause"}
        </button>
        <button type="button" onClick={() => setRows([])}>
          Clear
        </button>
      </form>
      {error && (
        <p id="tail-error" role="alert" class="error">
          {error}
        </p>
      )}
      <p class="muted" aria-live="polite">
        {state === "live" && !error ? (paused ? "Paused: new messages wait." : "Streaming.") : ""}
        {state === "closed" && !error ? "The stream ended." : ""}
      </p>
      <ol class="tail" aria-label="Tail messages, newest first">
        {rows.map((row) => (
          <li key={row.key} class={`tail-row tail-${row.type}`} data-type={row.type}>
            <details>
              <summary>
                <span class="time">{row.at}</span> <span class="badge">{row.type}</span> {row.text}
              </summary>
              <pre class="code">{row.payload}</pre>
            </details>
            {row.id && (
              <button
                type="button"
                class="link"
                onClick={() => props.onJourney(applied.namespace || "default", row.id!, row.source)}
              >
                Journey of {row.id}
              </button>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
