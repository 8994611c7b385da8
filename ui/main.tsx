/** The console's shell: navigation by hash (#/topology, #/tail, #/journey/NS/ID, …), the token prompt. */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import {
  currentToken,
  forgetToken,
  giveToken,
  onTokenChange,
  setTokenAsker,
  tokenDeclined,
} from "./api.js";
import { DeadLetters } from "./deadletters.js";
import { Journey, type JourneyQuery } from "./journey.js";
import { Send } from "./send.js";
import { Tail } from "./tail.js";
import { Topology } from "./topology.js";

const VIEWS = [
  ["topology", "Topology"],
  ["tail", "Live tail"],
  ["journey", "Journey"],
  ["deadletters", "Dead letters"],
  ["send", "Send"],
] as const;
type View = (typeof VIEWS)[number][0];

interface Route {
  view: View;
  journey?: JourneyQuery;
}

function parseHash(hash: string): Route {
  const [path = "", queryText = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const view = VIEWS.find(([name]) => name === parts[0])?.[0] ?? "topology";
  if (view === "journey" && parts[1] && parts[2]) {
    const source = new URLSearchParams(queryText).get("source");
    return { view, journey: { namespace: parts[1], id: parts[2], ...(source ? { source } : {}) } };
  }
  return { view };
}

function journeyHash(query: JourneyQuery): string {
  const base = `#/journey/${encodeURIComponent(query.namespace)}/${encodeURIComponent(query.id)}`;
  return query.source ? `${base}?source=${encodeURIComponent(query.source)}` : base;
}

interface Question {
  reason: string;
  answer: (token: string | undefined) => void;
}

function TokenDialog(props: { question: Question }) {
  const [value, setValue] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      class="token-dialog"
      aria-labelledby="token-title"
      onCancel={() => props.question.answer(undefined)}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          props.question.answer(value.trim() || undefined);
        }}
      >
        <h2 id="token-title">Token needed</h2>
        <p>{props.question.reason}</p>
        <p class="muted">
          Authentication is on. Give a token for the audience <code>eventail:api</code> (for example
          from <code>eventail token --sub you --aud eventail:api</code>). It is kept for this tab
          only and sent in the Authorization header.
        </p>
        <label>
          Token
          <input
            type="password"
            name="token"
            autoComplete="off"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            required
          />
        </label>
        <div class="row">
          <button type="submit">Use this token</button>
          <button type="button" onClick={() => props.question.answer(undefined)}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}

function App() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  const [question, setQuestion] = useState<Question | undefined>();
  const [hasToken, setHasToken] = useState(currentToken() !== null);
  const [declined, setDeclined] = useState(false);
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const onHash = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", onHash);
    setTokenAsker(
      (reason) =>
        new Promise((resolve) => {
          setQuestion({
            reason,
            answer: (token) => {
              setQuestion(undefined);
              resolve(token);
            },
          });
        }),
    );
    const unlisten = onTokenChange(() => {
      setHasToken(currentToken() !== null);
      setDeclined(tokenDeclined());
    });
    return () => {
      window.removeEventListener("hashchange", onHash);
      unlisten();
    };
  }, []);

  const go = (hash: string) => {
    location.hash = hash;
  };
  const openJourney = (namespace: string, id: string, source?: string) =>
    go(journeyHash({ namespace, id, ...(source ? { source } : {}) }));

  return (
    <>
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Eventail</span>
        <nav aria-label="Views">
          <ul>
            {VIEWS.map(([name, label]) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={route.view === name ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {hasToken ? (
          <button type="button" class="forget" onClick={forgetToken}>
            Forget token
          </button>
        ) : (
          declined && (
            <button
              type="button"
              class="forget"
              onClick={async () => {
                // The open view reads again with the token: reload it.
                if (await giveToken()) location.reload();
              }}
            >
              Give a token
            </button>
          )
        )}
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        {route.view === "topology" && <Topology />}
        {route.view === "tail" && <Tail onJourney={openJourney} />}
        {route.view === "journey" && (
          <Journey
            {...(route.journey ? { query: route.journey } : {})}
            onSearch={(query) => go(journeyHash(query))}
          />
        )}
        {route.view === "deadletters" && <DeadLetters />}
        {route.view === "send" && <Send onJourney={openJourney} />}
      </main>
      {question && <TokenDialog question={question} />}
    </>
  );
}

render(<App />, document.getElementById("app")!);
