/** Send a CloudEvent (binary mode) to a broker's or a channel's address. */
import { useEffect, useState } from "preact/hooks";
import { currentToken, listResources, newId } from "./api.js";

interface Target {
  label: string;
  /** The address's path: the console and the ingress are the same process. */
  path: string;
}

function pathOf(url: string): string {
  try {
    return new URL(url, location.href).pathname;
  } catch {
    return url;
  }
}

export function Send(props: {
  onJourney: (namespace: string, id: string, source: string) => void;
}) {
  const [targets, setTargets] = useState<Target[]>([]);
  const [target, setTarget] = useState("");
  const [id, setId] = useState(newId());
  const [type, setType] = useState("dev.example.console");
  const [source, setSource] = useState("/eventail/console");
  const [contentType, setContentType] = useState("application/json");
  const [data, setData] = useState('{"hello": "world"}');
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | undefined>();
  const [sent, setSent] = useState<{ namespace: string; id: string; source: string } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [addressToken, setAddressToken] = useState("");

  useEffect(() => {
    listResources()
      .then((items) => {
        const found = items
          .filter((r) => r.kind === "Broker" || r.kind.endsWith("Channel"))
          .flatMap((r) => {
            const url = r.status?.address?.url;
            return url
              ? [
                  {
                    label: `${r.kind} ${r.metadata.namespace ?? "default"}/${r.metadata.name}`,
                    path: pathOf(url),
                  },
                ]
              : [];
          });
        setTargets(found);
        setTarget((current) => current || found[0]?.path || "");
      })
      .catch((e: Error) => setError(e.message));
  }, []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setAnswer(undefined);
    setSent(undefined);
    setError(undefined);
    const headers: Record<string, string> = {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": source,
      "ce-type": type,
    };
    if (contentType) headers["content-type"] = contentType;
    // An address checks its own audience (CONTRACT §10): a token for it, else the console's.
    const token = addressToken.trim() || currentToken();
    if (token) headers["authorization"] = `Bearer ${token}`;
    try {
      // Not through call(): a 401 here is about this address, not the console's API token.
      const response = await fetch(target, { method: "POST", headers, body: data });
      const text = await response.text();
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // Not JSON: shown as it came.
      }
      setAnswer({
        ok: response.ok,
        text: `${response.status}${message ? `: ${message}` : response.ok ? " accepted" : ""}`,
      });
      if (response.ok) {
        const namespace = target.replace(/^\/(channels\/)?/, "").split("/")[0] || "default";
        setSent({ namespace, id, source });
        setId(newId());
      }
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <section aria-labelledby="send-title" class="view">
      <h1 id="send-title">Send an event</h1>
      <form class="send-form" onSubmit={submit}>
        <label>
          To
          <select value={target} onChange={(e) => setTarget(e.currentTarget.value)} required>
            {targets.map((t) => (
              <option key={t.path} value={t.path}>
                {t.label} ({t.path})
              </option>
            ))}
          </select>
        </label>
        <label>
          Id
          <input name="id" value={id} onInput={(e) => setId(e.currentTarget.value)} required />
        </label>
        <label>
          Type
          <input
            name="type"
            value={type}
            onInput={(e) => setType(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          Source
          <input
            name="source"
            value={source}
            onInput={(e) => setSource(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          Content type
          <input value={contentType} onInput={(e) => setContentType(e.currentTarget.value)} />
        </label>
        <label>
          Data
          <textarea
            name="data"
            rows={6}
            value={data}
            onInput={(e) => setData(e.currentTarget.value)}
          />
        </label>
        <label>
          Token for this address (optional; with authentication on)
          <input
            type="password"
            autoComplete="off"
            value={addressToken}
            onInput={(e) => setAddressToken(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={!target}>
          Send
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {answer && (
        <p role="status" class={answer.ok ? "ok" : "error"}>
          {answer.text}
        </p>
      )}
      {answer?.ok && sent && (
        <p>
          Sent {sent.id}.{" "}
          <button
            type="button"
            class="link"
            onClick={() => props.onJourney(sent.namespace, sent.id, sent.source)}
          >
            Open its journey
          </button>
        </p>
      )}
    </section>
  );
}
