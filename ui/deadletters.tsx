/** Dead letters of a namespace: list, inspect (body decoded), redrive one or many. */
import { Fragment } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { callJson } from "./api.js";

interface DeadLetter {
  entryId: string;
  kind: string;
  name: string;
  attempts: number;
  at: string;
  knativeerrordest: string;
  knativeerrorcode?: string;
  knativeerrordata?: string;
  error?: string;
  event: Record<string, unknown>;
}

/** Base64 as text when it is UTF-8, else a note of its size. */
function decodeBase64(value: string): string {
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return `(${value.length} base64 characters of binary data)`;
  }
}

function bodyOf(event: Record<string, unknown>): string {
  if (typeof event["data_base64"] === "string") return decodeBase64(event["data_base64"]);
  const data = event["data"];
  if (data === undefined) return "(no data)";
  return typeof data === "string" ? data : JSON.stringify(data, null, 2);
}

export function DeadLetters() {
  const [namespace, setNamespace] = useState("default");
  const [items, setItems] = useState<DeadLetter[] | undefined>();
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [inspected, setInspected] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [result, setResult] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const load = useCallback(async (ns: string) => {
    setError(undefined);
    try {
      const answer = await callJson<{ items: DeadLetter[] }>(
        `/api/v1/deadletters?namespace=${encodeURIComponent(ns)}`,
      );
      setItems(answer.items);
      setChosen(
        (before) => new Set(answer.items.map((i) => i.entryId).filter((id) => before.has(id))),
      );
    } catch (e) {
      setItems(undefined);
      setError((e as Error).message);
    }
  }, []);

  useEffect(() => {
    void load("default");
  }, [load]);

  const redrive = async (entryIds: string[] | undefined) => {
    setBusy(true);
    setResult(undefined);
    setError(undefined);
    try {
      const answer = await callJson<{ redriven: number; failed: number }>(
        "/api/v1/deadletters/redrive",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ namespace, ...(entryIds ? { entryIds } : {}) }),
        },
      );
      setResult(`Redriven: ${answer.redriven}, failed again: ${answer.failed}.`);
      await load(namespace);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const toggle = (id: string) => {
    setChosen((before) => {
      const next = new Set(before);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  };

  return (
    <section aria-labelledby="dl-title" class="view">
      <h1 id="dl-title">Dead letters</h1>
      <form
        class="toolbar"
        onSubmit={(event) => {
          event.preventDefault();
          void load(namespace.trim());
        }}
      >
        <label>
          Namespace
          <input value={namespace} onInput={(e) => setNamespace(e.currentTarget.value)} required />
        </label>
        <button type="submit">Refresh</button>
        <button
          type="button"
          disabled={busy || chosen.size === 0}
          onClick={() => redrive([...chosen])}
        >
          Redrive selected ({chosen.size})
        </button>
        <button type="button" disabled={busy || !items?.length} onClick={() => redrive(undefined)}>
          Redrive all
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {result && (
        <p role="status" class="ok">
          {result}
        </p>
      )}
      {items && items.length === 0 && <p>No dead letters in {namespace}.</p>}
      {items && items.length > 0 && (
        <div class="table-scroll">
          <table class="deadletters">
            <caption class="sr-only">Dead letters of {namespace}</caption>
            <thead>
              <tr>
                <th scope="col">Select</th>
                <th scope="col">When</th>
                <th scope="col">Route</th>
                <th scope="col">Event</th>
                <th scope="col">Error</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <Fragment key={item.entryId}>
                  <tr data-entry={item.entryId}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Select dead letter ${item.event["id"]}`}
                        checked={chosen.has(item.entryId)}
                        onChange={() => toggle(item.entryId)}
                      />
                    </td>
                    <td>{new Date(item.at).toLocaleString()}</td>
                    <td>
                      {item.kind} {item.name} ({item.attempts} attempts)
                    </td>
                    <td>
                      {String(item.event["type"])} · {String(item.event["id"])}
                    </td>
                    <td>{item.knativeerrorcode ?? item.error ?? "?"}</td>
                    <td class="actions">
                      <button
                        type="button"
                        aria-expanded={inspected === item.entryId}
                        onClick={() =>
                          setInspected(inspected === item.entryId ? undefined : item.entryId)
                        }
                      >
                        Inspect
                      </button>
                      <button type="button" disabled={busy} onClick={() => redrive([item.entryId])}>
                        Redrive
                      </button>
                    </td>
                  </tr>
                  {inspected === item.entryId && (
                    <tr class="details">
                      <td colSpan={6}>
                        <dl>
                          <dt>Destination</dt>
                          <dd>{item.knativeerrordest}</dd>
                          {item.knativeerrorcode && (
                            <>
                              <dt>Last status</dt>
                              <dd>{item.knativeerrorcode}</dd>
                            </>
                          )}
                          {item.knativeerrordata && (
                            <>
                              <dt>Subscriber's answer</dt>
                              <dd>
                                <pre class="code">{decodeBase64(item.knativeerrordata)}</pre>
                              </dd>
                            </>
                          )}
                          {item.error && (
                            <>
                              <dt>Error</dt>
                              <dd>{item.error}</dd>
                            </>
                          )}
                          <dt>Body</dt>
                          <dd>
                            <pre class="code" data-testid="dead-letter-body">
                              {bodyOf(item.event)}
                            </pre>
                          </dd>
                          <dt>Event</dt>
                          <dd>
                            <pre class="code">{JSON.stringify(item.event, null, 2)}</pre>
                          </dd>
                        </dl>
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
