import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CASE_FILE, expectIssue, expectWarning, issuesWith } from "./validate-harness.js";

/** A certificate only (no key): CACerts must hold a real one before the transform rule is reached. */
const CERTIFICATE = `      -----BEGIN CERTIFICATE-----
      MIIBoTCCAUegAwIBAgIUa653wC2DTwGw8AhvxdamgnJ0qWMwCgYIKoZIzj0EAwIw
      JjEkMCIGA1UEAwwbZXZlbnRhaWwtdmFsaWRhdGlvbi1maXh0dXJlMB4XDTI2MTIw
      NzAxMzM0NloXDTM2MTIwNDAxMzM0NlowJjEkMCIGA1UEAwwbZXZlbnRhaWwtdmFs
      aWRhdGlvbi1maXh0dXJlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBcL4zdEU
      FnaYCMneTImnmdrsUO5EvQSNg26QYd9n456v/dDcjnupj3QG5CMiUso78iEloMhl
      U8XW/1TT6icTL6NTMFEwHQYDVR0OBBYEFKk+hKBJoNOXpNq5L6aSkq1gnRXeMB8G
      A1UdIwQYMBaAFKk+hKBJoNOXpNq5L6aSkq1gnRXeMA8GA1UdEwEB/wQFMAMBAf8w
      CgYIKoZIzj0EAwIDSAAwRQIgCSVf6EB8o17OUHPWFQvwsED3nOtMudKht5VTZ6yV
      qHcCIQDjroPuorwCaFHDj/9y/rousRAZXRiEAhnVd3sIVRwslw==
      -----END CERTIFICATE-----`;

const DOCS = path.resolve(import.meta.dirname, "../fixtures/knative-docs/event-transform");

const transform = (
  spec: string,
  namespace = "default",
) => `apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: case
  namespace: ${namespace}
spec:
${spec}`;

const JSONATA =
  '  jsonata:\n    expression: \'{"specversion": "1.0", "id": id, "source": "s", "type": "t"}\'\n';
const SINK = "  sink:\n    uri: http://127.0.0.1:9/\n";

const requestReply = (spec: string) => `apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata:
  name: case
spec:
  brokerRef:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: default
${spec}`;

const secret = (name: string, body: string) => `---
apiVersion: v1
kind: Secret
metadata:
  name: ${name}
${body}`;

async function caseIssues(manifest: string) {
  return (await issuesWith(manifest))
    .filter((issue) => issue.file === CASE_FILE)
    .map(({ kind, path, message }) => ({ kind, path, message }));
}

describe("validateResources: EventTransform", () => {
  it.each([
    ["simple-transform.yaml"],
    ["extract-user-id.yaml"],
    ["event-enricher.yaml"],
    ["order-processor.yaml"],
    ["user-registration-transformer.yaml"],
    ["broker-reply.yaml"],
  ])("Knative's documented %s is valid as written", async (file) => {
    expect(await caseIssues(readFileSync(path.join(DOCS, file), "utf8"))).toEqual([]);
  });

  it("Knative's documented request-reply-transform.yaml: its `#` comments are not JSONata", async () => {
    const issues = await caseIssues(
      readFileSync(path.join(DOCS, "request-reply-transform.yaml"), "utf8"),
    );
    const parse = issues.filter((issue) => issue.message.startsWith("JSONata does not parse"));
    expect(parse.map((issue) => issue.path)).toEqual([
      "spec.jsonata.expression",
      "spec.reply.jsonata.expression",
    ]);
    expect(parse[0]!.message).toContain('The symbol "#" cannot be used as a unary operator');
    expect(parse[0]!.message).toContain("at line 1, column 1");
  });

  // Knative's webhook does not parse JSONata, so these are accepted with a warning (and the
  // transform answers 400 to every event until the expression parses).
  it.each([
    [
      "an expression that does not parse warns, and the message says where it does not",
      transform(
        '  jsonata:\n    expression: |\n      {\n        "id": id,\n        "type":\n      }\n',
      ),
      "spec.jsonata.expression",
      "at line 4, column",
    ],
    [
      "an empty expression warns: it does not parse",
      transform('  jsonata:\n    expression: ""\n'),
      "spec.jsonata.expression",
      "Unexpected end of expression",
    ],
    [
      "a reply expression that does not parse warns",
      transform(`${JSONATA}${SINK}  reply:\n    jsonata:\n      expression: "foo("\n`),
      "spec.reply.jsonata.expression",
      'Expected ")" before end of expression',
    ],
  ] as const)("%s", async (_name, manifest, path, fragment) => {
    await expectWarning(manifest, path, fragment);
  });

  it.each([
    ["a transformation is required", transform(SINK), "spec.jsonata", "required field is missing"],
    [
      "the expression is required",
      transform("  jsonata: {}\n"),
      "spec.jsonata.expression",
      "required field is missing",
    ],
    [
      "a reply needs a sink (Knative: reply is set without spec.sink)",
      transform(`${JSONATA}  reply:\n    discard: true\n`),
      "spec.reply",
      "is set without spec.sink",
    ],
    [
      "a reply is transformed or discarded, not both",
      transform(
        `${JSONATA}${SINK}  reply:\n    discard: true\n    jsonata:\n      expression: "$"\n`,
      ),
      "spec.reply",
      "expected exactly one, got both: jsonata, discard",
    ],
    [
      "CACerts on the sink is refused for JSONata, as Knative does",
      transform(
        `${JSONATA}  sink:\n    uri: https://127.0.0.1:9/\n    CACerts: |\n${CERTIFICATE}\n`,
      ),
      "spec.sink.CACerts",
      "not supported for JSONata transformations",
    ],
    [
      "unknown fields are errors (a typo is not a missing sink)",
      transform(`${JSONATA}  snk:\n    uri: http://127.0.0.1:9/\n`),
      "spec.snk",
      "unknown field",
    ],
    [
      "the namespace transforms is a URL prefix",
      transform(JSONATA, "transforms"),
      "metadata.namespace",
      'namespace "transforms" is reserved',
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });

  it("a sink not among the manifests is a warning: the transform is not served until it is added", async () => {
    await expectWarning(
      transform(
        `${JSONATA}  sink:\n    ref:\n      apiVersion: eventing.knative.dev/v1\n      kind: Broker\n      name: nope\n`,
      ),
      "spec.sink.ref.name",
      "Broker default/nope is not among the manifests: this EventTransform is not served until it is added",
    );
  });

  it("a reply kept as it came (reply: {}) and discard: false with jsonata are valid", async () => {
    expect(await caseIssues(transform(`${JSONATA}${SINK}  reply: {}\n`))).toEqual([]);
    expect(
      await caseIssues(
        transform(
          `${JSONATA}${SINK}  reply:\n    discard: false\n    jsonata:\n      expression: "$"\n`,
        ),
      ),
    ).toEqual([]);
  });

  it("a Trigger's subscriber may be an EventTransform; one not among the manifests is a warning", async () => {
    const subscriberRef = (name: string) => `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-transform
spec:
  broker: default
  subscriber:
    ref:
      apiVersion: eventing.knative.dev/v1alpha1
      kind: EventTransform
      name: ${name}
`;
    expect(await caseIssues(transform(JSONATA) + subscriberRef("case"))).toEqual([]);
    expect(await caseIssues(transform(JSONATA) + subscriberRef("other"))).toEqual([
      {
        kind: "Trigger",
        path: "spec.subscriber.ref.name",
        message:
          "EventTransform default/other is not among the manifests: this Trigger delivers nothing until it is added",
      },
    ]);
  });
});

/** "signing-key-of-32-bytes-for-tests" (33 bytes), base64. */
const LONG_KEY = "c2lnbmluZy1rZXktb2YtMzItYnl0ZXMtZm9yLXRlc3Rz";

describe("validateResources: RequestReply", () => {
  it("the defaults are valid: a brokerRef is all it needs", async () => {
    expect(await caseIssues(requestReply(""))).toEqual([]);
  });

  it("spec.secrets naming Secrets with long enough keys is valid", async () => {
    const manifest =
      requestReply("  secrets: [rr-keys]\n  timeout: PT5S\n") +
      secret("rr-keys", `data:\n  key-0: ${LONG_KEY}\n`);
    expect(await caseIssues(manifest)).toEqual([]);
  });

  it.each([
    [
      "a brokerRef is required",
      requestReply("").replace(/ {2}brokerRef:[\s\S]*$/, "  timeout: PT1S\n"),
      "spec.brokerRef",
      "required field is missing",
    ],
    [
      "brokerRef must name a Broker",
      requestReply("").replace("kind: Broker", "kind: Channel"),
      "spec.brokerRef.kind",
      'must be Broker (got "Channel")',
    ],
    [
      "brokerRef takes no namespace (Knative disallows it)",
      requestReply("    namespace: shop\n"),
      "spec.brokerRef.namespace",
      "must not be set",
    ],
    [
      "the timeout is ISO-8601",
      requestReply("  timeout: 30s\n"),
      "spec.timeout",
      "invalid ISO-8601 duration",
    ],
    [
      "the timeout is positive",
      requestReply("  timeout: PT0S\n"),
      "spec.timeout",
      "must be a positive duration",
    ],
    [
      "the correlation attribute cannot be a core attribute",
      requestReply("  correlationAttribute: id\n"),
      "spec.correlationAttribute",
      'cannot be the core CloudEvents attribute "id"',
    ],
    [
      "the reply attribute cannot be source (Knative's check spells it `course`)",
      requestReply("  replyAttribute: source\n"),
      "spec.replyAttribute",
      'cannot be the core CloudEvents attribute "source"',
    ],
    [
      "attributes are CloudEvents attribute names",
      requestReply("  replyAttribute: reply-id\n"),
      "spec.replyAttribute",
      "is not a CloudEvents attribute name",
    ],
    [
      "the reply attribute must differ from the correlation attribute (default included)",
      requestReply("  replyAttribute: correlationid\n"),
      "spec.replyAttribute",
      "a request would be its own reply",
    ],
    [
      "a named Secret must exist",
      requestReply("  secrets: [missing]\n"),
      "spec.secrets[0]",
      "Secret default/missing not found",
    ],
    [
      "a Secret's keys must be long enough to sign with",
      requestReply("  secrets: [short]\n") + secret("short", "stringData:\n  key: tooshort\n"),
      "spec.secrets[0]",
      'key "key" of Secret default/short holds 8 bytes; a signing key needs at least 16',
    ],
    [
      "a Secret without keys cannot sign",
      requestReply("  secrets: [empty]\n") + secret("empty", "type: Opaque\n"),
      "spec.secrets[0]",
      "holds no key",
    ],
    [
      "the delivery is checked like a trigger's",
      requestReply("  delivery:\n    backoffDelay: soon\n"),
      "spec.delivery.backoffDelay",
      "invalid ISO-8601 duration",
    ],
  ])("%s", async (_what, manifest, at, fragment) => {
    await expectIssue(manifest, at, fragment);
  });

  it("a Broker not among the manifests is a warning: requests answer 503 until it is added", async () => {
    await expectWarning(
      requestReply("").replace("name: default", "name: nope"),
      "spec.brokerRef.name",
      "Broker default/nope is not among the manifests: this RequestReply answers 503 until it is added",
    );
  });

  it("the namespace requestreply is a URL prefix", async () => {
    const issues = await caseIssues(
      requestReply("").replace("name: case\n", "name: case\n  namespace: requestreply\n"),
    );
    expect(issues).toContainEqual({
      kind: "RequestReply",
      path: "metadata.namespace",
      message: 'namespace "requestreply" is reserved (it is a URL prefix)',
    });
  });
});
