import { describe, it } from "vitest";
import { expectIssue, expectWarning, trigger } from "./validate-harness.js";

const ping = (spec: string) => `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: case
spec:
  sink:
    uri: http://127.0.0.1:9/
${spec}`;

const shop = (kind: string, apiVersion: string, spec: string) => `apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: case
  namespace: shop
spec:
${spec}`;

// Filters Knative accepts (no dialect, empty all/any, several attributes) are in
// knative-trigger-validation.test.ts.
describe("validateResources: trigger filters", () => {
  it.each([
    [
      "filter.attributes names must be lower-case letters and digits",
      trigger("  filter:\n    attributes:\n      Type: x\n"),
      "spec.filter.attributes.Type",
      'invalid attribute name "Type"',
    ],
    [
      "filter.attributes names must not hold dashes (the path brackets such keys)",
      trigger("  filter:\n    attributes:\n      my-ext: x\n"),
      "spec.filter.attributes[my-ext]",
      'invalid attribute name "my-ext"',
    ],
    [
      "filter.attributes names must start with a letter",
      trigger("  filter:\n    attributes:\n      1st: x\n"),
      "spec.filter.attributes[1st]",
      "must start with a lower-case letter",
    ],
    [
      "a filters element with two dialects is refused",
      trigger("  filters:\n    - exact:\n        type: a\n      suffix:\n        type: b\n"),
      "spec.filters[0]",
      "multiple dialects set (exact, suffix)",
    ],
    [
      "prefix attribute names follow the same rule",
      trigger("  filters:\n    - prefix:\n        Source: /a\n"),
      "spec.filters[0].prefix.Source",
      'invalid attribute name "Source"',
    ],
    [
      "a nested filter under all also sets exactly one dialect",
      trigger(
        '  filters:\n    - all:\n        - exact:\n            type: a\n          cesql: "true"\n',
      ),
      "spec.filters[0].all[0]",
      "multiple dialects set (exact, cesql)",
    ],
    [
      "a nested attribute name under not is checked",
      trigger("  filters:\n    - not:\n        exact:\n          Bad: x\n"),
      "spec.filters[0].not.exact.Bad",
      'invalid attribute name "Bad"',
    ],
    [
      "an unknown dialect below the top level is reported (the CRD keeps nested filters open)",
      trigger("  filters:\n    - any:\n        - exakt:\n            type: a\n"),
      "spec.filters[0].any[0].exakt",
      "unknown field",
    ],
    [
      "an unknown dialect at the top level is reported by the schema",
      trigger("  filters:\n    - exakt:\n        type: a\n"),
      "spec.filters[0].exakt",
      "unknown field",
    ],
    [
      "a nested exact value must be a string",
      trigger("  filters:\n    - not:\n        exact:\n          count: 3\n"),
      "spec.filters[0].not.exact.count",
      "must be a string",
    ],
    [
      "cesql must parse",
      trigger('  filters:\n    - cesql: "type = "\n'),
      "spec.filters[0].cesql",
      "invalid CESQL expression",
    ],
    [
      "a nested cesql must parse too",
      trigger('  filters:\n    - not:\n        cesql: "source LIKE"\n'),
      "spec.filters[0].not.cesql",
      "invalid CESQL expression",
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: PingSource", () => {
  it.each([
    [
      "a cron field out of range",
      ping('  schedule: "61 * * * *"\n'),
      "spec.schedule",
      "invalid cron schedule",
    ],
    [
      "a 6-field cron (PingSource takes 5 fields)",
      ping('  schedule: "0 */5 * * * *"\n'),
      "spec.schedule",
      "requires exactly 5 parts",
    ],
    [
      "@every, which Knative refuses",
      ping('  schedule: "@every 1m"\n'),
      "spec.schedule",
      "@every is not supported",
    ],
    ["a missing schedule", ping(""), "spec.schedule", "required field is missing"],
    [
      "an unknown zone in the CRON_TZ= prefix",
      ping('  schedule: "CRON_TZ=Mars/Olympus * * * * *"\n'),
      "spec.schedule",
      'unknown time zone "Mars/Olympus" in the CRON_TZ= prefix',
    ],
    [
      "an unknown spec.timezone",
      ping('  schedule: "@hourly"\n  timezone: Mars/Olympus\n'),
      "spec.timezone",
      'unknown time zone "Mars/Olympus"',
    ],
    [
      "a UTC offset where an IANA zone is expected",
      ping('  schedule: "@hourly"\n  timezone: "+01:00"\n'),
      "spec.timezone",
      "unknown time zone",
    ],
    [
      "a zone given both as CRON_TZ= and spec.timezone",
      ping('  schedule: "CRON_TZ=Europe/Paris @hourly"\n  timezone: Europe/Paris\n'),
      "spec.timezone",
      "not both",
    ],
    [
      "data and dataBase64 together",
      ping('  schedule: "@hourly"\n  data: hi\n  dataBase64: aGk=\n'),
      "spec.dataBase64",
      "set data or dataBase64, not both",
    ],
    [
      "dataBase64 that is not base64",
      ping('  schedule: "@hourly"\n  dataBase64: "not base64!"\n'),
      "spec.dataBase64",
      "must be base64",
    ],
    [
      "JSON content type with data that is not a JSON object",
      ping('  schedule: "@hourly"\n  contentType: application/json\n  data: "[1, 2]"\n'),
      "spec.data",
      "must be a JSON object when contentType is application/json",
    ],
    [
      "JSON content type with dataBase64 that does not decode to a JSON object",
      ping('  schedule: "@hourly"\n  contentType: application/json\n  dataBase64: aGk=\n'),
      "spec.dataBase64",
      "must decode to a JSON object",
    ],
    [
      "an extension name CloudEvents does not allow",
      ping('  schedule: "@hourly"\n  ceOverrides:\n    extensions:\n      Team: shop\n'),
      "spec.ceOverrides.extensions.Team",
      'invalid extension name "Team"',
    ],
    [
      "a sink that does not resolve",
      ping('  schedule: "@hourly"\n').replace("uri: http://127.0.0.1:9/", "uri: relative"),
      "spec.sink.uri",
      "must be an absolute URL",
    ],
  ])("refuses %s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: channels, subscriptions, flows, sinks and core kinds", () => {
  const ms = "messaging.knative.dev/v1";
  it.each([
    [
      "a channelTemplate must name a concrete channel kind",
      shop(
        "Channel",
        ms,
        "  channelTemplate:\n    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n",
      ),
      "spec.channelTemplate.kind",
      "must be a channel kind",
    ],
    [
      "a channelTemplate spec is checked against its kind's CRD (KafkaChannel partitions)",
      shop(
        "Channel",
        ms,
        "  channelTemplate:\n    apiVersion: messaging.knative.dev/v1beta1\n    kind: KafkaChannel\n    spec:\n      numPartitions: 0\n",
      ),
      "spec.channelTemplate.spec.numPartitions",
      "must be >= 1",
    ],
    [
      "a channelTemplate spec field its kind does not declare",
      shop(
        "Channel",
        ms,
        "  channelTemplate:\n    apiVersion: messaging.knative.dev/v1beta1\n    kind: KafkaChannel\n    spec:\n      partitions: 3\n",
      ),
      "spec.channelTemplate.spec.partitions",
      "unknown field",
    ],
    [
      "a channelTemplate at an apiVersion its kind is not served at",
      shop(
        "Channel",
        ms,
        "  channelTemplate:\n    apiVersion: messaging.knative.dev/v1alpha1\n    kind: KafkaChannel\n",
      ),
      "spec.channelTemplate.apiVersion",
      "KafkaChannel is served as messaging.knative.dev/v1beta1, messaging.knative.dev/v1",
    ],
    [
      "a KafkaChannel retention that is not ISO-8601",
      shop("KafkaChannel", "messaging.knative.dev/v1beta1", "  retentionDuration: 7d\n"),
      "spec.retentionDuration",
      'invalid ISO-8601 duration "7d"',
    ],
    [
      "a NatsJetStreamChannel maxAge that is not a Go duration",
      shop(
        "NatsJetStreamChannel",
        "messaging.knative.dev/v1alpha1",
        "  stream:\n    config:\n      maxAge: 1 day\n",
      ),
      "spec.stream.config.maxAge",
      "must be a Go duration",
    ],
    [
      "a RedisStreamChannel maxLen below zero",
      shop("RedisStreamChannel", "eventail.io/v1alpha1", "  maxLen: -5\n"),
      "spec.maxLen",
      "must be >= 0",
    ],
    [
      "an InMemoryChannel delivery with a broken duration",
      shop("InMemoryChannel", ms, "  delivery:\n    timeout: soon\n"),
      "spec.delivery.timeout",
      'invalid ISO-8601 duration "soon"',
    ],
    [
      "a Subscription's channel must be a channel kind",
      shop(
        "Subscription",
        ms,
        "  channel:\n    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n    name: orders\n  subscriber:\n    uri: http://x/\n",
      ),
      "spec.channel.kind",
      "must be a channel kind",
    ],
    [
      "a Subscription with neither subscriber nor reply",
      shop(
        "Subscription",
        ms,
        "  channel:\n    apiVersion: messaging.knative.dev/v1\n    kind: InMemoryChannel\n    name: scratch\n",
      ),
      "spec.subscriber",
      "required when reply is not set",
    ],
    [
      "a Sequence with no steps",
      shop("Sequence", "flows.knative.dev/v1", "  steps: []\n"),
      "spec.steps",
      "must have at least 1 item(s)",
    ],
    [
      "a Sequence step with neither ref nor uri",
      shop("Sequence", "flows.knative.dev/v1", "  steps:\n    - delivery:\n        retry: 1\n"),
      "spec.steps[0]",
      "needs ref or uri",
    ],
    [
      "a Sequence step's delivery is checked",
      shop(
        "Sequence",
        "flows.knative.dev/v1",
        "  steps:\n    - uri: http://x/\n      delivery:\n        backoffDelay: 1s\n",
      ),
      "spec.steps[0].delivery.backoffDelay",
      "invalid ISO-8601 duration",
    ],
    [
      "a Parallel branch without a subscriber",
      shop(
        "Parallel",
        "flows.knative.dev/v1",
        "  branches:\n    - filter:\n        uri: http://x/\n",
      ),
      "spec.branches[0].subscriber",
      "required field is missing",
    ],
    [
      "a Parallel branch filter that does not resolve",
      shop(
        "Parallel",
        "flows.knative.dev/v1",
        "  branches:\n    - filter:\n        uri: /filter\n      subscriber:\n        uri: http://x/\n",
      ),
      "spec.branches[0].filter.uri",
      "must be an absolute URL",
    ],
    [
      "an IntegrationSink asking for AWS, which Eventail does not run",
      shop(
        "IntegrationSink",
        "sinks.knative.dev/v1alpha1",
        "  aws:\n    s3:\n      arn: my-bucket\n",
      ),
      "spec.aws",
      "AWS integrations are not run standalone (events sent here would be lost); use spec.log",
    ],
    [
      "an IntegrationSink with no integration",
      shop("IntegrationSink", "sinks.knative.dev/v1alpha1", "  {}\n"),
      "spec.log",
      "required field is missing",
    ],
    [
      "an IntegrationSink log option of the wrong type",
      shop("IntegrationSink", "sinks.knative.dev/v1alpha1", '  log:\n    showHeaders: "yes"\n'),
      "spec.log.showHeaders",
      "must be boolean",
    ],
    [
      "Secret data that is not base64",
      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: case\ndata:\n  token: plain-text!\n",
      "data.token",
      "must be base64",
    ],
    [
      "a ConfigMap value that is not a string",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: case\ndata:\n  port: 6379\n",
      "data.port",
      "must be string (got 6379)",
    ],
    [
      "a ConfigMap key Kubernetes does not allow",
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: case\ndata:\n  "a b": x\n',
      "data[a b]",
      "invalid key",
    ],
  ])("refuses %s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });
});

describe("validateResources: a channel not among the manifests", () => {
  it("a Subscription whose channel is missing is accepted with a warning saying it delivers nothing", async () => {
    await expectWarning(
      `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: case
  namespace: shop
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: ghost
  subscriber:
    uri: http://x/
`,
      "spec.channel.name",
      "InMemoryChannel shop/ghost is not among the manifests: this Subscription delivers nothing until it is added",
    );
  });
});
