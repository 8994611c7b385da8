/** The topology view: the graph laid out by dagre, Ready state and live rates, a side panel. */
import { Graph, layout } from "@dagrejs/dagre";
import { useEffect, useMemo, useState } from "preact/hooks";
import { stringify } from "yaml";
import { listResources, type Resource, readiness, readSse } from "./api.js";
import { buildGraph, type GraphEdge, type GraphNode } from "./graph.js";
import { type RateSample, watchRates } from "./metrics.js";

const NODE_WIDTH = 180;
const NODE_HEIGHT = 52;

interface Outcome {
  id: string;
  kind: string;
  name: string;
  outcome: string;
  status?: number;
  attempt?: number;
  at: string;
}

interface Laid {
  width: number;
  height: number;
  nodes: Array<GraphNode & { x: number; y: number }>;
  edges: Array<GraphEdge & { points: Array<{ x: number; y: number }> }>;
}

function lay(nodes: GraphNode[], edges: GraphEdge[]): Laid {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 20, ranksep: 70, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) g.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  edges.forEach((edge, index) => {
    g.setEdge(edge.from, edge.to, {}, String(index));
  });
  layout(g);
  const graph = g.graph() as { width?: number; height?: number };
  return {
    width: graph.width ?? 0,
    height: graph.height ?? 0,
    nodes: nodes.map((node) => {
      const at = g.node(node.id) as { x: number; y: number };
      return { ...node, x: at.x, y: at.y };
    }),
    edges: edges.map((edge, index) => {
      const label = g.edge({ v: edge.from, w: edge.to, name: String(index) }) as {
        points?: Array<{ x: number; y: number }>;
      };
      return { ...edge, points: label.points ?? [] };
    }),
  };
}

function stateOf(node: GraphNode): { text: string; css: string } {
  if (node.uri) return { text: "URI", css: "state-uri" };
  if (!node.resource) return { text: "not declared", css: "state-false" };
  const ready = readiness(node.resource);
  if (!ready) return { text: "no status", css: "state-unknown" };
  if (ready.status === "True") return { text: "Ready", css: "state-true" };
  if (ready.status === "False") return { text: "Not ready", css: "state-false" };
  return { text: "Unknown", css: "state-unknown" };
}

/** A name that fits a node; a URI keeps its end (the path tells subscribers apart). */
function shortName(node: GraphNode): string {
  if (node.name.length <= 24) return node.name;
  return node.uri ? `…${node.name.slice(-23)}` : `${node.name.slice(0, 23)}…`;
}

const rateKey = (node: GraphNode) => `${node.namespace}/${node.name}`;
const hasRate = (node: GraphNode) => node.kind === "Trigger" || node.kind === "Subscription";

export function Topology() {
  const [resources, setResources] = useState<Resource[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<string | undefined>();
  const [sample, setSample] = useState<RateSample | undefined>();
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);

  useEffect(() => {
    let stopped = false;
    const load = async () => {
      try {
        const items = await listResources();
        if (!stopped) {
          setResources(items);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError((e as Error).message);
      }
    };
    void load();
    const timer = setInterval(load, 5000);
    const stopRates = watchRates(2000, setSample);
    // Outcomes as they happen, for the side panel's "recent outcomes".
    const abort = new AbortController();
    void readSse("/api/v1/tail", abort.signal, (message) => {
      if (message.event !== "outcome") return;
      const outcome = { ...(JSON.parse(message.data) as Outcome), at: new Date().toISOString() };
      setOutcomes((list) => [outcome, ...list].slice(0, 200));
    }).catch(() => undefined);
    return () => {
      stopped = true;
      clearInterval(timer);
      stopRates();
      abort.abort();
    };
  }, []);

  const graph = useMemo(() => (resources ? buildGraph(resources) : undefined), [resources]);
  const laid = useMemo(() => (graph ? lay(graph.nodes, graph.edges) : undefined), [graph]);
  const chosen = laid?.nodes.find((node) => node.id === selected);

  return (
    <section aria-labelledby="topology-title" class="view topology">
      <h1 id="topology-title">Topology</h1>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!laid && !error && <p>Loading resources…</p>}
      {laid && laid.nodes.length === 0 && <p>No resources are declared.</p>}
      {laid && laid.nodes.length > 0 && (
        <div class={`topology-body${chosen ? " has-panel" : ""}`}>
          <div class="graph-scroll">
            {/* biome-ignore lint/a11y/useSemanticElements: an SVG holds no fieldset; the nodes are its buttons */}
            <svg
              class="graph"
              width={laid.width}
              height={laid.height}
              viewBox={`0 0 ${laid.width} ${laid.height}`}
              role="group"
              aria-label="Resources and how events flow between them"
            >
              <defs>
                <marker
                  id="arrow"
                  viewBox="0 0 10 10"
                  refX="9"
                  refY="5"
                  markerWidth="7"
                  markerHeight="7"
                  orient="auto-start-reverse"
                >
                  <path d="M0,0 L10,5 L0,10 z" fill="context-stroke" />
                </marker>
              </defs>
              {laid.edges.map((edge) => (
                <path
                  key={`${edge.from}->${edge.to}-${edge.kind}`}
                  class={`edge edge-${edge.kind}`}
                  data-edge={edge.kind}
                  data-from={edge.from}
                  data-to={edge.to}
                  d={edge.points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" ")}
                  marker-end="url(#arrow)"
                >
                  <title>{`${edge.kind}: ${edge.from} → ${edge.to}`}</title>
                </path>
              ))}
              {laid.nodes.map((node) => {
                const state = stateOf(node);
                const rate = hasRate(node) ? sample?.rates.get(rateKey(node)) : undefined;
                const open = () => setSelected(node.id);
                return (
                  // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
                  <g
                    key={node.id}
                    class={`node kind-${node.kind.toLowerCase()} ${state.css}${node.id === selected ? " selected" : ""}`}
                    transform={`translate(${node.x - NODE_WIDTH / 2},${node.y - NODE_HEIGHT / 2})`}
                    tabindex={0}
                    role="button"
                    data-node={node.id}
                    aria-pressed={node.id === selected}
                    aria-label={`${node.kind} ${node.name}, ${state.text}${rate !== undefined ? `, ${rate.toFixed(1)} deliveries per second` : ""}`}
                    onClick={open}
                    onKeyDown={(event) => {
                      if (event.key === "Enter" || event.key === " ") {
                        event.preventDefault();
                        open();
                      }
                    }}
                  >
                    <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx="6" />
                    <text x="10" y="19" class="node-kind">
                      {node.kind}
                    </text>
                    <text x="10" y="38" class="node-name">
                      {shortName(node)}
                    </text>
                    <circle cx={NODE_WIDTH - 14} cy="14" r="6" class="dot" />
                    {rate !== undefined && (
                      <text x={NODE_WIDTH - 10} y="40" class="node-rate" text-anchor="end">
                        {rate.toFixed(1)}/s
                      </text>
                    )}
                  </g>
                );
              })}
            </svg>
          </div>
          <p class="legend">
            <span class="legend-flow">→ events</span> <span class="legend-reply">⇢ reply</span>{" "}
            <span class="legend-dl">⇢ dead letters</span> · Ready: <span class="dot-true">●</span>{" "}
            not ready: <span class="dot-false">●</span>
          </p>
          {chosen && (
            <NodePanel
              node={chosen}
              sample={sample}
              outcomes={outcomes.filter((o) => o.kind === chosen.kind && o.name === chosen.name)}
              onClose={() => setSelected(undefined)}
            />
          )}
        </div>
      )}
    </section>
  );
}

function NodePanel(props: {
  node: GraphNode;
  sample: RateSample | undefined;
  outcomes: Outcome[];
  onClose: () => void;
}) {
  const { node, sample, outcomes } = props;
  const resource = node.resource;
  const attempts = hasRate(node) ? sample?.attempts.get(rateKey(node)) : undefined;
  const spec = resource
    ? {
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        metadata: resource.metadata,
        spec: resource.spec,
      }
    : undefined;
  return (
    <aside class="panel" aria-labelledby="panel-title">
      <header class="panel-head">
        <h2 id="panel-title">
          {node.kind} {node.name}
        </h2>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </header>
      {!resource && (
        <p>{node.uri ? `A URI: ${node.uri}` : "Referenced, but no such resource is declared."}</p>
      )}
      {resource?.status?.conditions && (
        <>
          <h3>Status</h3>
          <table class="conditions">
            <thead>
              <tr>
                <th scope="col">Condition</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {resource.status.conditions.map((c) => (
                <tr key={c.type}>
                  <td>{c.type}</td>
                  <td class={`cond-${c.status.toLowerCase()}`}>{c.status}</td>
                  <td>{[c.reason, c.message].filter(Boolean).join(": ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {resource.status.address?.url && <p>Address: {resource.status.address.url}</p>}
          {resource.status.subscriberUri && <p>Subscriber: {resource.status.subscriberUri}</p>}
          {resource.status.deadLetterSinkUri && (
            <p>Dead-letter sink: {resource.status.deadLetterSinkUri}</p>
          )}
        </>
      )}
      {attempts && (
        <>
          <h3>Delivery attempts since start</h3>
          <p>
            {Object.entries(attempts.byCode)
              .map(([code, n]) => `${code}: ${n}`)
              .join(" · ")}
          </p>
        </>
      )}
      {hasRate(node) && (
        <>
          <h3>Recent outcomes</h3>
          {outcomes.length === 0 ? (
            <p>None since this page opened.</p>
          ) : (
            <ul class="outcomes">
              {outcomes.slice(0, 20).map((o) => (
                <li key={`${o.id}-${o.at}-${o.attempt}`}>
                  <span class={`badge outcome-${o.outcome}`}>{o.outcome}</span> {o.id}
                  {o.status !== undefined ? ` (HTTP ${o.status})` : ""}
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {spec && (
        <>
          <h3>Manifest</h3>
          <pre class="code" data-testid="manifest">
            {stringify(spec)}
          </pre>
        </>
      )}
    </aside>
  );
}
