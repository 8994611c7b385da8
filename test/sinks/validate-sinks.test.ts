import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateCommand } from "../../src/cli/validate.js";
import type { Resource } from "../../src/resources/types.js";
import { validateConfiguration } from "../../src/runtime/configuration.js";
import { issuesWith, validWorld } from "../resources/validate-harness.js";

/** A resource of `kind` named `case` in namespace shop (the valid world's), with `spec` lines. */
const shop = (apiVersion: string, kind: string, spec: string, name = "case") =>
  `apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: ${name}
  namespace: shop
spec:
${spec}`;

const jobSink = (container: string, name = "case") =>
  shop(
    "sinks.knative.dev/v1alpha1",
    "JobSink",
    `  job:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
${container}`,
    name,
  );
const kafkaSink = (spec: string) => shop("eventing.knative.dev/v1alpha1", "KafkaSink", spec);
const redisSink = (spec: string) => shop("sinks.knative.dev/v1alpha1", "RedisStreamSink", spec);
const redisSource = (spec: string) =>
  shop("sources.knative.dev/v1alpha1", "RedisStreamSource", spec);
const integrationSource = (spec: string) =>
  shop("sources.knative.dev/v1alpha1", "IntegrationSource", spec);

const RUNNABLE = "            - name: main\n              command: [node, job.mjs]\n";
const SINK = "  sink:\n    uri: http://127.0.0.1:9/\n";
const KAFKA = "  topic: orders\n  bootstrapServers: [127.0.0.1:9092]\n";
const REDIS = "  address: redis://127.0.0.1:6379\n  stream: fruit\n";
const kafkaSecret = (data: string) => `apiVersion: v1
kind: Secret
metadata:
  name: kafka-auth
  namespace: shop
stringData:
${data}---
${kafkaSink(`${KAFKA}  auth:\n    secret:\n      ref:\n        name: kafka-auth\n`)}`;

/** What adding `manifest` to the valid world reports, as comparable rows. */
async function found(manifest: string) {
  const issues = await issuesWith(manifest);
  return issues.map((issue) => ({
    path: issue.path,
    message: issue.message,
    severity: issue.severity ?? "error",
  }));
}

const problem = (path: string, fragment: string, severity = "error") => ({
  path,
  message: expect.stringContaining(fragment),
  severity,
});

describe("validation of the sink kinds and the new sources", () => {
  it.each([
    ["a JobSink running a command", jobSink(RUNNABLE)],
    [
      "Knative's JobSink example with a command and env",
      jobSink(
        `${RUNNABLE}              image: docker.io/library/node:20\n              env:\n                - name: LEVEL\n                  value: debug\n`,
      ),
    ],
    [
      "a KafkaSink in binary mode",
      kafkaSink(`${KAFKA}  contentMode: binary\n  numPartitions: 3\n`),
    ],
    [
      "a KafkaSink with a SASL_SSL Secret",
      kafkaSecret(
        "  protocol: SASL_SSL\n  sasl.mechanism: SCRAM-SHA-512\n  user: u\n  password: p\n  ca.crt: pem\n",
      ),
    ],
    ["a RedisStreamSink", redisSink(REDIS)],
    ["a RedisStreamSource with a group", redisSource(`${REDIS}  group: readers\n${SINK}`)],
    [
      "an IntegrationSource timer",
      integrationSource(`  timer:\n    period: 1000\n    message: hi\n${SINK}`),
    ],
    [
      "a Trigger whose subscriber is a JobSink ref",
      `${jobSink(RUNNABLE, "runner")}---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: case
  namespace: shop
spec:
  broker: orders
  subscriber:
    ref:
      apiVersion: sinks.knative.dev/v1alpha1
      kind: JobSink
      name: runner
`,
    ],
  ])("%s is valid", async (_name, manifest) => {
    expect(await found(manifest)).toEqual([]);
  });

  it.each([
    [
      "a JobSink needs spec.job",
      shop("sinks.knative.dev/v1alpha1", "JobSink", "  {}\n"),
      [problem("spec.job", "required field is missing")],
    ],
    [
      "a sink name is unique across sink kinds in a namespace",
      jobSink(RUNNABLE, "dead-letters"),
      [problem("metadata.name", "is already the address of IntegrationSink")],
    ],
    [
      "eventail.io/jobsink.max-running is a positive integer",
      jobSink(RUNNABLE).replace(
        "  namespace: shop\n",
        '  namespace: shop\n  annotations:\n    eventail.io/jobsink.max-running: "0"\n',
      ),
      [
        problem(
          "metadata.annotations[eventail.io/jobsink.max-running]",
          "must be a positive integer (jobs running at once)",
        ),
      ],
    ],
    [
      "a JobSink env can only read Secrets",
      jobSink(
        `${RUNNABLE}              env:\n                - name: A\n                  valueFrom:\n                    configMapKeyRef: {name: c, key: k}\n`,
      ),
      [
        problem(
          "spec.job.spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef",
          "only secretKeyRef",
        ),
      ],
    ],
    [
      "a KafkaSink content mode is binary or structured",
      kafkaSink(`${KAFKA}  contentMode: avro\n`),
      [problem("spec.contentMode", "must be one of binary, structured")],
    ],
    [
      "a KafkaSink topic is a Kafka topic name",
      kafkaSink("  topic: bad topic\n  bootstrapServers: [127.0.0.1:9092]\n"),
      [problem("spec.topic", 'invalid topic "bad topic"')],
    ],
    [
      "a KafkaSink needs its topic",
      kafkaSink("  bootstrapServers: [127.0.0.1:9092]\n"),
      [problem("spec.topic", "required field is missing")],
    ],
    [
      "a KafkaSink auth Secret names a protocol Knative knows",
      kafkaSecret("  protocol: TLS\n"),
      [problem("spec.auth.secret.ref.name", 'key protocol: protocol "TLS" is not one of')],
    ],
    [
      "a KafkaSink SASL Secret needs a password",
      kafkaSecret("  protocol: SASL_PLAINTEXT\n  user: u\n"),
      [problem("spec.auth.secret.ref.name", "key password: SASL needs a password")],
    ],
    [
      "a Redis address is host:port or a redis:// URL, not http://",
      redisSink("  address: http://127.0.0.1:6379\n  stream: fruit\n"),
      [problem("spec.address", "must be host:port or a redis:// or rediss:// URL")],
    ],
    [
      "a bare host:port Redis address is accepted, as eventing-redis dials it",
      redisSink("  address: redis.redis.svc.cluster.local:6379\n  stream: fruit\n"),
      [],
    ],
    [
      "Redis TLS is always verified",
      redisSink(`${REDIS}  dialOptions:\n    useTLS: true\n    skipVerify: true\n`),
      [problem("spec.dialOptions.skipVerify", "always verified")],
    ],
    [
      "a Redis CA certificate Secret must exist",
      redisSink(
        `${REDIS}  dialOptions:\n    caCert:\n      secretKeyRef:\n        name: github-token\n        key: ca.crt\n`,
      ),
      [problem("spec.dialOptions.caCert.secretKeyRef.key", 'has no key "ca.crt"')],
    ],
    [
      "a RedisStreamSource needs a sink",
      redisSource(REDIS),
      [problem("spec.sink", "required field is missing")],
    ],
    [
      "a RedisStreamSource runs at least one consumer",
      redisSource(`${REDIS}  consumers: 0\n${SINK}`),
      [problem("spec.consumers", "must be >= 1")],
    ],
    [
      "an IntegrationSource sets one source type, not two",
      integrationSource(
        `  timer:\n    period: 10\n  aws:\n    s3:\n      arn: b\n      region: r\n${SINK}`,
      ),
      [problem("spec", "only one source type can be set (got timer, aws.s3)")],
    ],
    [
      "an IntegrationSource sets a source type",
      integrationSource(SINK),
      [problem("spec", "at least one source type must be specified")],
    ],
    [
      "an AWS source needs what Knative requires, and cannot run standalone",
      integrationSource(`  aws:\n    sqs:\n      arn: q\n${SINK}`),
      [
        problem("spec.aws.auth.secret.ref.name", "required field is missing"),
        problem("spec.aws.sqs", "cannot run standalone", "warning"),
        problem("spec.aws.sqs.region", "required field is missing"),
      ],
    ],
  ])("%s (error)", async (_name, manifest, expected) => {
    expect(await found(manifest)).toEqual(expected);
  });

  it.each([
    [
      "a KafkaSink bootstrap server that is not host:port (Knative accepts it; nothing connects)",
      kafkaSink("  topic: orders\n  bootstrapServers: [kafka]\n"),
      [
        problem(
          "spec.bootstrapServers[0]",
          '"kafka" is not host:port: this KafkaSink cannot connect until it is',
          "warning",
        ),
      ],
    ],
    [
      "a KafkaSink auth Secret not among the manifests (the sink starts once it is added)",
      kafkaSink(`${KAFKA}  auth:\n    secret:\n      ref:\n        name: nope\n`),
      [
        problem(
          "spec.auth.secret.ref.name",
          "Secret shop/nope is not among the manifests: this KafkaSink does not start until it is added",
          "warning",
        ),
      ],
    ],
    [
      "a JobSink container with only an image: the sink answers 503",
      jobSink("            - name: main\n              image: docker.io/library/busybox\n"),
      [problem("spec.job.spec.template.spec.containers[0].command", "answers 503", "warning")],
    ],
    [
      "a JobSink job reading Knative's fixed event path in its args",
      jobSink(`${RUNNABLE}              args: [--event, /etc/jobsink-event/event]\n`),
      [
        problem(
          "spec.job.spec.template.spec.containers[0].args[1]",
          "read the file named by $K_EVENT_PATH",
          "warning",
        ),
      ],
    ],
    [
      "a JobSink job reading Knative's fixed event path from its env",
      jobSink(
        `${RUNNABLE}              env:\n                - name: FROM_FILES\n                  value: /etc/jobsink-event/event\n`,
      ),
      [
        problem(
          "spec.job.spec.template.spec.containers[0].env[0].value",
          "/etc/jobsink-event/event",
          "warning",
        ),
      ],
    ],
    [
      "a JobSink with a second container",
      jobSink(`${RUNNABLE}            - name: sidecar\n              image: busybox\n`),
      [problem("spec.job.spec.template.spec.containers", "only containers[0] runs", "warning")],
    ],
    [
      "a Redis password object reference",
      redisSink(`${REDIS}  dialOptions:\n    password:\n      name: redis\n`),
      [problem("spec.dialOptions.password", "put the password in spec.address", "warning")],
    ],
    [
      "an AWS S3 IntegrationSource",
      integrationSource(
        `  aws:\n    s3:\n      arn: arn:aws:s3:::b\n      region: eu-west-1\n    auth:\n      secret:\n        ref:\n          name: aws\n${SINK}`,
      ),
      [problem("spec.aws.s3", "cannot run standalone", "warning")],
    ],
  ])("%s (warning)", async (_name, manifest, expected) => {
    expect(await found(manifest)).toEqual(expected);
  });
});

describe("eventail validate with warnings", () => {
  it("prints each warning as `... path warning: message` and still exits 0", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-validate-warn-"));
    try {
      const file = path.join(dir, "jobs.yaml");
      writeFileSync(
        file,
        jobSink("            - name: main\n              image: docker.io/library/busybox\n"),
      );
      let out = "";
      const code = await validateCommand(
        [dir],
        {
          write: (s) => {
            out += s;
          },
        },
        {
          write: () => undefined,
        },
      );
      expect(code).toBe(0);
      expect(out.split("\n").filter(Boolean)).toEqual([
        `${file}:13 JobSink/shop/case spec.job.spec.template.spec.containers[0].command warning: ` +
          "no command: images are not run standalone, so this JobSink answers 503 SINK_UNAVAILABLE " +
          "until a command is set",
        "1 resource valid, 1 warning",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("validation of the new kinds, on any spec", () => {
  /** Values of every JSON type at the fields the rules read, so each rule meets wrong types. */
  const anyValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom("redis://127.0.0.1:6379", "/etc/jobsink-event/event", "kafka:9092"),
  );
  const container = fc.dictionary(
    fc.constantFrom("name", "image", "command", "args", "env", "workingDir"),
    fc.oneof(anyValue, fc.array(anyValue, { maxLength: 3 })),
  );
  const specs: Record<string, fc.Arbitrary<unknown>> = {
    JobSink: fc.oneof(
      anyValue,
      fc.record(
        {
          job: fc.record(
            {
              spec: fc.record({
                template: fc.record({
                  spec: fc.record({ containers: fc.array(container, { maxLength: 2 }) }),
                }),
              }),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    KafkaSink: fc.dictionary(
      fc.constantFrom("topic", "bootstrapServers", "contentMode", "numPartitions", "auth"),
      anyValue,
    ),
    RedisStreamSink: fc.dictionary(fc.constantFrom("address", "stream", "dialOptions"), anyValue),
    RedisStreamSource: fc.dictionary(
      fc.constantFrom("address", "stream", "group", "consumers", "dialOptions", "sink"),
      anyValue,
    ),
    IntegrationSource: fc.dictionary(fc.constantFrom("timer", "aws", "template", "sink"), anyValue),
  };
  const apiVersions: Record<string, string> = {
    JobSink: "sinks.knative.dev/v1alpha1",
    KafkaSink: "eventing.knative.dev/v1alpha1",
    RedisStreamSink: "sinks.knative.dev/v1alpha1",
    RedisStreamSource: "sources.knative.dev/v1alpha1",
    IntegrationSource: "sources.knative.dev/v1alpha1",
  };

  it.each(Object.keys(specs))(
    "property: any %s spec gets a list of located issues, never a crash of its rules",
    async (kind) => {
      const world = await validWorld();
      fc.assert(
        fc.property(specs[kind]!, (spec) => {
          const resource: Resource = {
            apiVersion: apiVersions[kind]!,
            kind,
            metadata: { name: "case", namespace: "shop" },
            spec,
            origin: { file: "case.yaml", line: 1 },
          };
          for (const issue of validateConfiguration([...world, resource])) {
            expect(issue.message).not.toContain("rules failed");
            expect(issue.file).toBe("case.yaml");
          }
        }),
        { numRuns: 200 },
      );
    },
  );
});
