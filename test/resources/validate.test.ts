import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue } from "../../src/resources/issue.js";
import { loadManifests, parseManifests } from "../../src/resources/loader.js";
import { validateResources } from "../../src/resources/validate.js";
import { validateConfiguration } from "../../src/runtime/configuration.js";
import { expectIssue, expectWarning, FIXTURES, trigger } from "./validate-harness.js";

const broker = (spec: string, name = "case") => `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: ${name}
spec:
${spec}`;

describe("validateResources: identity and schema", () => {
  it.each([
    [
      "a reserved namespace is refused because it is a URL prefix",
      "apiVersion: sinks.knative.dev/v1alpha1\nkind: IntegrationSink\nmetadata:\n  name: s\n  namespace: channels\nspec:\n  log: {}\n",
      "metadata.namespace",
      'namespace "channels" is reserved',
    ],
    [
      "sinks is reserved too (IntegrationSink addresses live under /sinks)",
      "apiVersion: sinks.knative.dev/v1alpha1\nkind: IntegrationSink\nmetadata:\n  name: s\n  namespace: sinks\nspec:\n  log: {}\n",
      "metadata.namespace",
      'namespace "sinks" is reserved',
    ],
    [
      "a name must be a DNS-1123 subdomain",
      trigger("").replace("name: case", "name: Bad_Name"),
      "metadata.name",
      'invalid name "Bad_Name"',
    ],
    [
      "a second resource of the same kind, namespace and name is a duplicate naming the first",
      "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: default\n",
      "metadata.name",
      "duplicate Broker: first defined at",
    ],
    [
      "two channel kinds with one name would share one address",
      "apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: payments\n  namespace: shop\n",
      "metadata.name",
      "/channels/shop/payments is already the address of Channel shop/payments",
    ],
    [
      "a kind Eventail does not serve is named",
      "apiVersion: eventing.knative.dev/v1\nkind: Trigegr\nmetadata:\n  name: t\nspec: {}\n",
      "kind",
      "unknown kind Trigegr",
    ],
    [
      "a known kind at an apiVersion it is not served at says which one it is",
      trigger("").replace("eventing.knative.dev/v1", "eventing.knative.dev/v1beta1"),
      "apiVersion",
      "Trigger is served as eventing.knative.dev/v1, not eventing.knative.dev/v1beta1",
    ],
    [
      "a field the CRD does not declare is reported, not pruned (typo in subscriber)",
      trigger("  subcriber:\n    uri: http://x/\n"),
      "spec.subcriber",
      "unknown field",
    ],
    [
      "a required field the CRD lists is reported missing",
      "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: t\nspec:\n  broker: default\n",
      "spec.subscriber",
      "required field is missing",
    ],
    [
      "retry must be >= 0",
      trigger("  delivery:\n    retry: -1\n"),
      "spec.delivery.retry",
      "must be >= 0 (got -1)",
    ],
    [
      "retry must be an integer",
      trigger("  delivery:\n    retry: 1.5\n"),
      "spec.delivery.retry",
      "must be integer (got 1.5)",
    ],
    [
      "backoffPolicy is linear or exponential",
      trigger("  delivery:\n    backoffPolicy: quadratic\n"),
      "spec.delivery.backoffPolicy",
      'must be one of linear, exponential (got "quadratic")',
    ],
    [
      "format is json or binary",
      trigger("  delivery:\n    format: xml\n"),
      "spec.delivery.format",
      "must be one of json, binary",
    ],
    [
      "filter.attributes values are strings",
      trigger("  filter:\n    attributes:\n      count: 3\n"),
      "spec.filter.attributes.count",
      "must be string (got 3)",
    ],
    [
      "an annotation Eventail reads is checked: delivery order",
      trigger("", "  annotations:\n    eventail.io/delivery.order: sometimes\n"),
      "metadata.annotations[eventail.io/delivery.order]",
      'must be ordered or unordered (got "sometimes")',
    ],
    [
      "an annotation Eventail reads is checked: delivery concurrency",
      trigger("", '  annotations:\n    eventail.io/delivery.concurrency: "0"\n'),
      "metadata.annotations[eventail.io/delivery.concurrency]",
      "must be a positive integer",
    ],
    [
      "an annotation Eventail reads is checked: delivery rate",
      trigger("", '  annotations:\n    eventail.io/delivery.rate: "fast"\n'),
      "metadata.annotations[eventail.io/delivery.rate]",
      'must be a positive number of deliveries per second (got "fast")',
    ],
    [
      "an annotation Eventail reads is checked: max backoff",
      trigger("", '  annotations:\n    eventail.io/delivery.max-backoff: "30s"\n'),
      "metadata.annotations[eventail.io/delivery.max-backoff]",
      'must be an ISO-8601 duration above zero, e.g. PT30S (got "30s")',
    ],
    [
      "an annotation Eventail reads is checked: the memory cap of a broker",
      'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: capped\n  annotations:\n    eventail.io/memory.max-events: "-5"\n',
      "metadata.annotations[eventail.io/memory.max-events]",
      'must be a positive integer (undelivered events) (got "-5")',
    ],
    [
      "an annotation Eventail reads is checked: a broker's retention for replay",
      'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: kept\n  annotations:\n    eventail.io/retention: "24h"\n',
      "metadata.annotations[eventail.io/retention]",
      'must be an ISO-8601 duration above zero, e.g. PT24H (got "24h")',
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: delivery and destinations", () => {
  it.each([
    [
      "backoffDelay must be an ISO-8601 duration, not a Go one",
      trigger("  delivery:\n    backoffDelay: 5s\n"),
      "spec.delivery.backoffDelay",
      'invalid ISO-8601 duration "5s"',
    ],
    [
      "timeout must be above zero",
      trigger("  delivery:\n    timeout: PT0S\n"),
      "spec.delivery.timeout",
      "must be greater than zero",
    ],
    [
      "retryAfterMax must not be negative",
      trigger("  delivery:\n    retryAfterMax: -PT1S\n"),
      "spec.delivery.retryAfterMax",
      "must not be negative",
    ],
    [
      "a destination needs ref or uri",
      trigger("  subscriber: {}\n"),
      "spec.subscriber",
      "needs ref or uri",
    ],
    [
      "a uri alone must be absolute",
      trigger("  subscriber:\n    uri: /events\n"),
      "spec.subscriber.uri",
      "must be an absolute URL when no ref is set",
    ],
    [
      "a ref to a kind with no address here needs a uri",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: example.com/v1\n      kind: Widget\n      name: display\n",
      ),
      "spec.subscriber.ref",
      "a ref to example.com/v1 Widget cannot be resolved in standalone mode",
    ],
    [
      "that uri must be absolute, since there is no address to resolve it against",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: example.com/v1\n      kind: Widget\n      name: display\n    uri: /path\n",
      ),
      "spec.subscriber.uri",
      "must be an absolute URL: a ref to Widget",
    ],
    [
      "a uri beside a resolvable ref must be relative, as Knative requires",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: eventing.knative.dev/v1\n      kind: Broker\n      name: default\n    uri: http://elsewhere/\n",
      ),
      "spec.subscriber.uri",
      "must be relative when ref is set",
    ],
    [
      "a ref's apiVersion must be one its kind is served at",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: eventing.knative.dev/v1beta1\n      kind: Broker\n      name: default\n",
      ),
      "spec.subscriber.ref.apiVersion",
      "Broker is served as eventing.knative.dev/v1, not eventing.knative.dev/v1beta1",
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: Broker and Trigger references", () => {
  const configMap = (data: string) =>
    `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: case-config\ndata:\n${data}---\n`;
  const configRef = "  config:\n    apiVersion: v1\n    kind: ConfigMap\n    name: case-config\n";
  it.each([
    [
      "the ConfigMap's data.backing must be a backing Eventail runs",
      configMap("  backing: mongodb\n") + broker(configRef),
      "spec.config",
      'sets data.backing to "mongodb"; expected one of memory, redis, nats, kafka, rabbitmq',
    ],
    [
      "the ConfigMap must say which backing it picks",
      configMap("  url: redis://127.0.0.1:6379\n") + broker(configRef),
      "spec.config",
      "ConfigMap default/case-config picks no backing: set data.backing",
    ],
    [
      "spec.config must reference a v1 ConfigMap",
      broker("  config:\n    apiVersion: v1\n    kind: Secret\n    name: github-token\n"),
      "spec.config",
      "must reference a v1 ConfigMap",
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: a ref to what is not among the manifests is a warning, as Knative accepts it", () => {
  const configRef = "  config:\n    apiVersion: v1\n    kind: ConfigMap\n    name: case-config\n";
  it.each([
    [
      "a Trigger whose broker is missing delivers nothing until it is added",
      trigger("").replace("broker: default", "broker: missing"),
      "spec.broker",
      "Broker default/missing is not among the manifests: this Trigger delivers nothing until it is added",
    ],
    [
      "a Broker whose ConfigMap is missing does not run until it is added",
      broker(configRef),
      "spec.config.name",
      "ConfigMap default/case-config is not among the manifests: this Broker does not run until it is added",
    ],
    [
      "a Broker's dead-letter sink naming a missing Broker",
      broker(
        "  delivery:\n    deadLetterSink:\n      ref:\n        apiVersion: eventing.knative.dev/v1\n        kind: Broker\n        name: nope\n",
      ),
      "spec.delivery.deadLetterSink.ref.name",
      "Broker default/nope is not among the manifests: the Triggers that use this Broker's delivery deliver nothing until it is added",
    ],
    [
      "a subscriber ref to a missing sink",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: sinks.knative.dev/v1alpha1\n      kind: IntegrationSink\n      name: ghost\n",
      ),
      "spec.subscriber.ref.name",
      "IntegrationSink default/ghost is not among the manifests: this Trigger delivers nothing",
    ],
    [
      "a ref's namespace is where its target is looked up",
      trigger(
        "  subscriber:\n    ref:\n      apiVersion: eventing.knative.dev/v1\n      kind: Broker\n      name: default\n      namespace: elsewhere\n",
      ),
      "spec.subscriber.ref.name",
      "Broker elsewhere/default is not among the manifests",
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectWarning(manifest, at, fragment);
  });
});

describe("validateResources: all problems, each where it is", () => {
  it("reports every mistake of a multi-document file with its field path and file:line", async () => {
    const file = path.join(FIXTURES, "invalid", "several-problems.yaml");
    const loaded = await loadManifests([file]);
    const issues = [...loaded.issues, ...validateConfiguration(loaded.resources)];
    const where = (text: string) => expect.stringContaining(text);
    expect(
      issues.map((i) => ({
        line: i.line,
        who: `${i.kind}/${i.namespace}/${i.name}`,
        path: i.path,
        message: i.message,
        ...(i.severity ? { severity: i.severity } : {}),
      })),
    ).toEqual([
      {
        line: 8,
        who: "Trigger/default/broken",
        path: "spec.broker",
        message: where("Broker default/missing-broker is not among the manifests"),
        severity: "warning",
      },
      {
        line: 11,
        who: "Trigger/default/broken",
        path: "spec.filter.attributes.Type",
        message: where('invalid attribute name "Type"'),
      },
      {
        line: 13,
        who: "Trigger/default/broken",
        path: "spec.filters[0]",
        message: where("multiple dialects set (exact, prefix)"),
      },
      {
        line: 17,
        who: "Trigger/default/broken",
        path: "spec.filters[1].cesql",
        message: where("invalid CESQL expression"),
      },
      {
        line: 19,
        who: "Trigger/default/broken",
        path: "spec.subscriber.uri",
        message: where("must be an absolute URL"),
      },
      {
        line: 21,
        who: "Trigger/default/broken",
        path: "spec.delivery.retry",
        message: where("must be >= 0"),
      },
      {
        line: 22,
        who: "Trigger/default/broken",
        path: "spec.delivery.backoffDelay",
        message: where('invalid ISO-8601 duration "5s"'),
      },
      {
        line: 28,
        who: "PingSource/channels/every-minute",
        path: "metadata.namespace",
        message: where("reserved"),
      },
      {
        line: 30,
        who: "PingSource/channels/every-minute",
        path: "spec.schedule",
        message: where("invalid cron schedule"),
      },
      {
        line: 31,
        who: "PingSource/channels/every-minute",
        path: "spec.timezone",
        message: where('unknown time zone "Mars/Olympus"'),
      },
      {
        line: 36,
        who: "PingSource/channels/every-minute",
        path: "spec.sink.ref.name",
        message: where("IntegrationSink channels/nowhere is not among the manifests"),
        severity: "warning",
      },
    ]);
    expect(formatIssue(issues[0]!)).toBe(
      `${file}:8 Trigger/default/broken spec.broker warning: Broker default/missing-broker is ` +
        "not among the manifests: this Trigger delivers nothing until it is added",
    );
  });

  it("a broken reference fails only the resource holding it, not its target", async () => {
    const loaded = await loadManifests([path.join(FIXTURES, "invalid")]);
    const issues = validateConfiguration(loaded.resources);
    expect(new Set(issues.map((i) => i.name))).toEqual(new Set(["broken", "every-minute"]));
  });
});

describe("validateResources: rules kept beside a runtime", () => {
  const sink = [
    "apiVersion: sinks.knative.dev/v1alpha1",
    "kind: IntegrationSink",
    "metadata:",
    "  name: extra",
    "spec:",
    "  log:",
    "    level: shout",
  ].join("\n");

  it("runs a kind's extra rules and places their problems on the field's line", () => {
    const { resources } = parseManifests(sink, "extra.yaml");
    const issues = validateResources(resources, {
      rules: { IntegrationSink: (check) => check.report("spec.log.level", "unknown level") },
    });
    expect(issues.map(formatIssue)).toEqual([
      "extra.yaml:7 IntegrationSink/default/extra spec.log.level: unknown level",
    ]);
  });

  it("reports an extra rule that throws instead of failing the whole validation", () => {
    const { resources } = parseManifests(sink, "extra.yaml");
    const issues = validateResources(resources, {
      rules: {
        IntegrationSink: () => {
          throw new Error("boom");
        },
      },
    });
    expect(issues.map((i) => i.message)).toEqual(["the IntegrationSink rules failed: boom"]);
  });
});

describe("validateResources: valid manifests", () => {
  const examples = path.resolve(FIXTURES, "../../../examples");
  const exampleDirs = readdirSync(examples, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => path.join(examples, entry.name));

  it.each([path.join(FIXTURES, "valid"), ...exampleDirs])("%s has no problems", async (dir) => {
    const loaded = await loadManifests([dir]);
    const issues = [...loaded.issues, ...validateConfiguration(loaded.resources)];
    expect(issues.map(formatIssue)).toEqual([]);
  });

  it("the valid fixture covers every kind Eventail serves, so each kind's happy path is exercised", async () => {
    const loaded = await loadManifests([path.join(FIXTURES, "valid")]);
    expect(new Set(loaded.resources.map((r) => r.kind))).toEqual(
      new Set([
        "ConfigMap",
        "Secret",
        "Broker",
        "Trigger",
        "Channel",
        "InMemoryChannel",
        "KafkaChannel",
        "NatsJetStreamChannel",
        "RedisStreamChannel",
        "Subscription",
        "Sequence",
        "Parallel",
        "IntegrationSink",
        "PingSource",
      ]),
    );
  });
});
