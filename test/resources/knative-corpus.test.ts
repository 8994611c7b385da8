/**
 * Issue 15's measuring stick: real Knative Eventing manifests written outside the project
 * (test/fixtures/knative-corpus, origin in its SOURCE.md), each fixture file validated as
 * `eventail validate -f FILE` does. A manifest Knative accepts must be accepted (warnings allowed)
 * or refused only with a message that says "standalone". Refusals that do not yet meet that bar
 * are listed in expected-failures.json, so this test fails on any new refusal, and on a listed
 * one that no longer happens (the list only shrinks). After a change that fixes some, rewrite it:
 *   KNATIVE_CORPUS_UPDATE=1 npx vitest run test/resources/knative-corpus.test.ts
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type DocumentOutcome,
  type Finding,
  isStandaloneRefusal,
  type Verdict,
  validateFixture,
} from "./knative-corpus-outcome.js";

const CORPUS = path.resolve(import.meta.dirname, "../fixtures/knative-corpus");
const EXPECTED_FILE = path.join(CORPUS, "expected-failures.json");
const UPDATE = process.env["KNATIVE_CORPUS_UPDATE"] === "1";

type Expected = Record<string, { resource: string; path: string; message: string }[]>;
const expected = JSON.parse(readFileSync(EXPECTED_FILE, "utf8")) as Expected;

/**
 * The kinds issue 15's bar covers: the contract's tables (§2, §2a, §5) and the kinds being added
 * beside them (KafkaSink, RedisStreamSink, RedisStreamSource, IntegrationSource).
 */
const CONTRACT_KINDS = new Set([
  "eventing.knative.dev/v1/Broker",
  "eventing.knative.dev/v1/Trigger",
  "messaging.knative.dev/v1/Channel",
  "messaging.knative.dev/v1/InMemoryChannel",
  "messaging.knative.dev/v1/Subscription",
  "messaging.knative.dev/v1beta1/KafkaChannel",
  "messaging.knative.dev/v1alpha1/NatsJetStreamChannel",
  "flows.knative.dev/v1/Sequence",
  "flows.knative.dev/v1/Parallel",
  "sources.knative.dev/v1/PingSource",
  "sources.knative.dev/v1beta2/PingSource",
  "sources.knative.dev/v1/ApiServerSource",
  "sources.knative.dev/v1/SinkBinding",
  "sources.knative.dev/v1/ContainerSource",
  "sources.knative.dev/v1/KafkaSource",
  "sources.knative.dev/v1beta1/KafkaSource",
  "sources.knative.dev/v1alpha1/GitHubSource",
  "sources.knative.dev/v1alpha1/GitLabSource",
  "sources.knative.dev/v1alpha1/IntegrationSource",
  "sources.knative.dev/v1alpha1/RedisStreamSource",
  "sinks.knative.dev/v1alpha1/IntegrationSink",
  "sinks.knative.dev/v1alpha1/JobSink",
  "sinks.knative.dev/v1alpha1/RedisStreamSink",
  "eventing.knative.dev/v1alpha1/KafkaSink",
  "eventing.knative.dev/v1beta2/EventType",
  "eventing.knative.dev/v1beta3/EventType",
  "eventing.knative.dev/v1alpha1/EventPolicy",
  "eventing.knative.dev/v1alpha1/EventTransform",
  "eventing.knative.dev/v1alpha1/RequestReply",
  "v1/ConfigMap",
  "v1/Secret",
]);
/** RabbitMQ's kinds: served by the rabbitmq backing and RabbitmqSource, so never refused. */
const RABBITMQ_KINDS = new Set(["RabbitmqSource", "RabbitmqBrokerConfig"]);

type Scope = "contract" | "rabbitmq" | "outside the contract";

function scopeOf(document: DocumentOutcome, fixture: string): Scope {
  if (RABBITMQ_KINDS.has(document.kind)) return "rabbitmq";
  if (document.kind === "Broker" && rabbitBrokers(fixture).has(document.resource)) {
    return "rabbitmq";
  }
  return CONTRACT_KINDS.has(`${document.apiVersion}/${document.kind}`)
    ? "contract"
    : "outside the contract";
}

/** Brokers of class RabbitMQBroker in a fixture (a plain text scan: the file is small). */
function rabbitBrokers(fixture: string): Set<string> {
  const brokers = new Set<string>();
  const text = readFileSync(path.join(CORPUS, fixture), "utf8");
  for (const doc of text.split(/^---\s*$/m)) {
    if (!/^kind: Broker\s*$/m.test(doc) || !/broker\.class: "?RabbitMQBroker/.test(doc)) continue;
    const name = /^ {2}name: "?([^\s"]+)/m.exec(doc)?.[1];
    const namespace = /^ {2}namespace: "?([^\s"]+)/m.exec(doc)?.[1] ?? "default";
    if (name) brokers.add(`Broker/${namespace}/${name}`);
  }
  return brokers;
}

function fixturesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => file.split(path.sep).join("/"))
    .sort();
}

const REFUSED_DIR = "knative-refuses/";
const all = fixturesUnder(CORPUS);
const fixtures = all.filter((file) => !file.startsWith(REFUSED_DIR));
/** Documents Knative itself refuses, each with the field Knative faults (its 3rd line). */
const refusedByKnative = all
  .filter((file) => file.startsWith(REFUSED_DIR))
  .map((file) => {
    const header = readFileSync(path.join(CORPUS, file), "utf8").split("\n", 3);
    const why = /^# knative refuses: (.+)$/.exec(header[1] ?? "")?.[1];
    const field = /^# field: (\S+)$/.exec(header[2] ?? "")?.[1];
    if (!why || !field) throw new Error(`${file}: no "# knative refuses:" and "# field:" lines`);
    return { file, why, field };
  });
const keyOf = (f: { resource: string; path: string }) => `${f.resource} ${f.path}`;

type ScopedOutcome = DocumentOutcome & { readonly scope: Scope };
const seen = new Map<string, { findings: readonly Finding[]; documents: ScopedOutcome[] }>();

describe("the Knative corpus under eventail validate", () => {
  it("holds a few hundred documents, each fixture naming the repository and commit it came from", () => {
    const sources = readFileSync(path.join(CORPUS, "SOURCE.md"), "utf8");
    const origins = new Set<string>();
    let documents = 0;
    for (const fixture of all) {
      const text = readFileSync(path.join(CORPUS, fixture), "utf8");
      const origin = /^# from ([\w.-]+\/[\w.-]+)@([0-9a-f]{40}):\S+\n/.exec(text);
      expect(origin, fixture).not.toBeNull();
      origins.add(`${origin![1]}@${origin![2]}`);
      documents += text.split(/^---\s*$/m).length;
    }
    for (const origin of origins) expect(sources).toContain(origin);
    expect(documents).toBeGreaterThanOrEqual(300);
  });

  it.each(fixtures)("%s: refused only where expected-failures.json says", async (fixture) => {
    const outcome = await validateFixture(path.join(CORPUS, fixture));
    seen.set(fixture, {
      findings: outcome.findings,
      documents: outcome.documents.map((doc) => ({ ...doc, scope: scopeOf(doc, fixture) })),
    });
    if (UPDATE) return;
    // A standalone limit is no excuse for these any more: the rabbitmq backing serves them.
    const rabbitRefused = [...seen.get(fixture)!.documents].filter(
      (doc) => doc.scope === "rabbitmq" && doc.verdict.startsWith("refused"),
    );
    expect(
      rabbitRefused.map((doc) => `${doc.kind} ${doc.resource}: ${doc.verdict}`),
      "RabbitMQ documents refused",
    ).toEqual([]);
    const refusals = outcome.findings.filter((f) => !f.warning && !isStandaloneRefusal(f));
    const listed = new Set((expected[fixture] ?? []).map(keyOf));
    const now = new Set(refusals.map(keyOf));
    const unexpected = refusals.filter((f) => !listed.has(keyOf(f)));
    const fixed = (expected[fixture] ?? []).filter((f) => !now.has(keyOf(f)));
    expect(
      unexpected.map((f) => `${f.line} ${keyOf(f)}: ${f.message}`),
      "new refusals",
    ).toEqual([]);
    expect(fixed.map(keyOf), "listed refusals that no longer happen (shrink the list)").toEqual([]);
  });

  it.each(refusedByKnative.map(({ file, field, why }) => [file, field, why]))(
    "%s: refused at %s, as Knative refuses it (%s)",
    async (file, field) => {
      const outcome = await validateFixture(path.join(CORPUS, file));
      const at = outcome.findings.filter(
        (f) =>
          !f.warning &&
          (f.path === field || f.path.startsWith(`${field}.`) || f.path.startsWith(`${field}[`)),
      );
      expect(outcome.code).toBe(2);
      expect(at.map((f) => `${f.path}: ${f.message}`)).not.toEqual([]);
    },
  );
});

afterAll(() => {
  if (seen.size !== fixtures.length) return;
  if (UPDATE) writeExpected();
  printTally();
});

function writeExpected(): void {
  const list: Expected = {};
  for (const [fixture, { findings }] of [...seen].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const refusals = findings.filter((f) => !f.warning && !isStandaloneRefusal(f));
    if (refusals.length === 0) continue;
    list[fixture] = refusals.map(({ resource, path, message }) => ({ resource, path, message }));
  }
  writeFileSync(EXPECTED_FILE, `${JSON.stringify(list, null, 2)}\n`);
}

const SCOPES: readonly Scope[] = ["contract", "rabbitmq", "outside the contract"];
const VERDICTS: readonly Verdict[] = [
  "accepted",
  "accepted with warnings",
  "refused-standalone",
  "refused-other",
];

/** Documents by verdict: all, then per scope, then per kind within the scope. */
function printTally(): void {
  const documents = [...seen.values()].flatMap((fixture) => fixture.documents);
  const row = (label: string, of: readonly ScopedOutcome[]) => [
    label,
    String(of.length),
    ...VERDICTS.map((verdict) => String(of.filter((doc) => doc.verdict === verdict).length)),
  ];
  const lines = [row("all documents", documents)];
  for (const scope of SCOPES) {
    const inScope = documents.filter((doc) => doc.scope === scope);
    lines.push(row(`  ${scope}`, inScope));
    for (const kind of [...new Set(inScope.map((doc) => doc.kind))].sort()) {
      lines.push(
        row(
          `    ${kind}`,
          inScope.filter((doc) => doc.kind === kind),
        ),
      );
    }
  }
  const header = ["", "documents", ...VERDICTS];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(["Knative corpus", format(header), ...lines.map(format)].join("\n"));
}
