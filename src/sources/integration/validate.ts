import { asFields, asString, type Check, type Fields } from "../../resources/rules/check.js";

const AWS_SOURCES = ["s3", "sqs", "ddbStreams"] as const;
/** Knative's own paths for the fields each AWS source needs (its validation names them so). */
const REQUIRED: Readonly<Record<(typeof AWS_SOURCES)[number], readonly [string, string][]>> = {
  s3: [
    ["arn", "spec.aws.s3.arn"],
    ["region", "spec.aws.s3.region"],
  ],
  sqs: [
    ["arn", "spec.aws.sqs.arn"],
    ["region", "spec.aws.sqs.region"],
  ],
  ddbStreams: [
    ["table", "spec.aws.ddbStreams.table"],
    ["region", "spec.aws.ddbStreams.region"],
  ],
};

/**
 * IntegrationSource, as Knative validates it: exactly one of timer, aws.s3, aws.sqs,
 * aws.ddbStreams; an AWS source needs its auth Secret and its arn (or table) and region. Standalone
 * only the timer runs, so an AWS source is a warning: it loads, and `run` emits nothing.
 */
export function validate(check: Check, spec: Fields): void {
  const aws = asFields(spec["aws"]);
  const set = [
    ...(spec["timer"] !== undefined ? ["timer"] : []),
    ...AWS_SOURCES.filter((kind) => aws?.[kind] !== undefined).map((kind) => `aws.${kind}`),
  ];
  if (set.length > 1) {
    check.report("spec", `only one source type can be set (got ${set.join(", ")})`);
  } else if (set.length === 0) {
    check.report(
      "spec",
      "at least one source type must be specified (timer, aws.s3, aws.sqs or aws.ddbStreams)",
    );
  }
  if (spec["template"] !== undefined) {
    check.warn("spec.template", "the pod template is not used standalone");
  }
  if (set.length !== 1) return;
  if (set[0] === "timer") {
    if (spec["sink"] === undefined)
      check.warn("spec.sink", "no sink: the timer's events go nowhere");
    return;
  }
  const kind = set[0]!.slice("aws.".length) as (typeof AWS_SOURCES)[number];
  const auth = asString(asFields(asFields(asFields(aws?.["auth"])?.["secret"])?.["ref"])?.["name"]);
  if (!auth) check.report("spec.aws.auth.secret.ref.name", "required field is missing");
  const fields = asFields(aws?.[kind]) ?? {};
  for (const [field, at] of REQUIRED[kind]) {
    if (!asString(fields[field])) check.report(at, "required field is missing");
  }
  check.warn(
    `spec.aws.${kind}`,
    `the AWS ${kind} integration cannot run standalone (it needs Knative's connector image): ` +
      "this source emits nothing",
  );
}
