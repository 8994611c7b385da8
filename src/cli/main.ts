#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { parseServiceFlag } from "../resources/services.js";
import {
  durationFlag,
  nonNegativeIntegerFlag,
  positiveIntegerFlag,
  type RunTlsAndLimits,
} from "./run-options.js";
import type { SendOptions } from "./send.js";

const version = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  }
).version;

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
    throw new InvalidArgumentError("must be a port number (0-65535)");
  }
  return parsed;
}

/** `--port` wins, then `$PORT` (as on Heroku, Cloud Run, Knative Serving), then 8080 (CONTRACT §1). */
function servePort(flag: number | undefined): number {
  if (flag !== undefined) return flag;
  const fromEnvironment = process.env["PORT"];
  if (fromEnvironment === undefined || fromEnvironment === "") return 8080;
  try {
    return port(fromEnvironment);
  } catch {
    process.stderr.write(
      `eventail: PORT must be a port number (0-65535), not ${fromEnvironment}\n`,
    );
    process.exit(2);
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--service NS/NAME=URL`, checked as it is read so a typo is a usage error (exit 2). */
function collectService(value: string, previous: string[] = []): string[] {
  try {
    parseServiceFlag(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^--service [^:]*: /, ""));
  }
  return [...previous, value];
}

const program = new Command()
  .name("eventail")
  .description("A Knative-Eventing-compatible event broker and trigger mesh")
  .version(version)
  .exitOverride((error) => {
    // Commander's own help/version exits are 0; every usage error is 2 (CONTRACT §1).
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

program
  .command("run")
  .description("serve the brokers, triggers, channels and sources in the manifests")
  .requiredOption("-f, --filename <path>", "manifest file or folder (repeatable)", collect)
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port to listen on (default: $PORT, else 8080)", port)
  .option("--no-watch", "do not watch the files; re-read them only on SIGHUP")
  .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (re-read on change)")
  .option("--tls-key <file>", "the PEM private key of --tls-cert")
  .option(
    "--header-timeout <duration>",
    "cut a request whose headers take longer (ISO-8601 or seconds; default: PT10S)",
    durationFlag,
  )
  .option(
    "--body-timeout <duration>",
    "cut a request not complete after this (ISO-8601 or seconds; default: PT60S)",
    durationFlag,
  )
  .option(
    "--max-connections <n>",
    "close new connections past this many open (default: 10000)",
    positiveIntegerFlag,
  )
  .option(
    "--service <NS/NAME=URL>",
    "where refs to Service NAME of namespace NS go (repeatable)",
    collectService,
  )
  .option("--public-url <url>", "URL clients reach this server at (token issuer, addresses)")
  .option(
    "--journey-size <n>",
    "events whose journey is kept in memory (default: 100000; 0 turns journeys off)",
    nonNegativeIntegerFlag,
  )
  .option(
    "--dead-letter-size <n>",
    "dead letters kept per namespace in memory (default: 10000)",
    positiveIntegerFlag,
  )
  .addHelpText("after", "\nExample:\n  eventail run -f examples/quickstart --port 9090")
  .action(
    async (
      options: {
        filename: string[];
        host: string;
        port?: number;
        watch: boolean;
        service?: string[];
        publicUrl?: string;
        journeySize?: number;
        deadLetterSize?: number;
      } & RunTlsAndLimits,
    ) => {
      // Each command loads only what it needs, so `send` and `--version` start fast.
      const { runCommand } = await import("./run.js");
      process.exitCode = await runCommand(
        options.filename,
        options.host,
        servePort(options.port),
        options.watch,
        options.service ?? [],
        options,
      );
    },
  );

program
  .command("controller")
  .description("serve the cluster's Eventail Brokers and Eventail kinds, writing their status")
  .option("--namespace <ns>", "namespace to watch (repeatable; default: all)", collect)
  .option("--kubeconfig <file>", "kubeconfig to use (default: in-cluster, else ~/.kube/config)")
  .option("--serve-knative-kinds", "also serve the other Knative kinds (no Knative controllers)")
  .option("--controller-namespace <ns>", "where the Lease and signing key live (default: own)")
  .option("--host <host>", "address to listen on", "0.0.0.0")
  .option("--port <port>", "port to listen on (default: $PORT, else 8080)", port)
  .action(
    async (options: {
      namespace?: string[];
      kubeconfig?: string;
      serveKnativeKinds?: boolean;
      controllerNamespace?: string;
      host: string;
      port?: number;
    }) => {
      const { controllerCommand } = await import("./controller.js");
      process.exitCode = await controllerCommand({ ...options, port: servePort(options.port) });
    },
  );

program
  .command("validate")
  .description("check manifests and print every problem (exit 2 when any)")
  .requiredOption("-f, --filename <path>", "manifest file or folder (repeatable)", collect)
  .action(async (options: { filename: string[] }) => {
    const { validateCommand } = await import("./validate.js");
    process.exitCode = await validateCommand(options.filename, process.stdout, process.stderr);
  });

program
  .command("send")
  .description("post one CloudEvent and print the HTTP status (and a reply event, if any)")
  .argument("<url>", "where to send it, e.g. http://127.0.0.1:8080/default/default")
  .requiredOption("--type <type>", "ce-type")
  .requiredOption("--source <source>", "ce-source")
  .option("--id <id>", "ce-id (default: a random UUID)")
  .option("--data <json>", "the event data, inline")
  .option("--data-file <file>", "read the event data from a file")
  .option("--content-type <type>", "datacontenttype (default application/json with data)")
  .option("--mode <mode>", "binary or structured", "binary")
  .option("--extension <key=value>", "an extension attribute (repeatable)", collect)
  .option("--token <jwt>", "bearer token, where authentication is on")
  .action(async (url: string, options: SendOptions) => {
    const { sendCommand } = await import("./send.js");
    process.exitCode = await sendCommand(url, options);
  });

program
  .command("token")
  .description(
    "print a JWT signed by Eventail's issuer (the signing-key Secret, else the state dir)",
  )
  .requiredOption("--sub <subject>", "the token's sub, e.g. system:serviceaccount:default:app")
  .requiredOption(
    "--aud <audience>",
    "the token's aud, e.g. eventing.knative.dev/broker/default/orders",
  )
  .option("--ttl <duration>", "lifetime, ISO-8601", "PT1H")
  .option("--claim <key=value>", "an extra claim (repeatable)", collect)
  .option("-f, --filename <path>", "manifests holding the Secret eventail-signing-key", collect)
  .option("--issuer <url>", "the iss (default: the state dir's server, else $EVENTAIL_SERVER)")
  .action(async (options: import("./token.js").TokenOptions) => {
    const { tokenCommand } = await import("./token.js");
    process.exitCode = await tokenCommand(options);
  });

program
  .command("display")
  .description("a sink that prints every CloudEvent it receives (answers 202)")
  .option("--host <host>", "address to listen on", "127.0.0.1")
  .option("--port <port>", "port to listen on", port, 8081)
  .action(async (options: { host: string; port: number }) => {
    const { displayCommand } = await import("./display.js");
    process.exitCode = await displayCommand(options.host, options.port);
  });

/** `--server`, `--token` and `-n` of the verbs that read the operations API (CONTRACT §11). */
function apiVerb(command: Command): Command {
  return command
    .option(
      "--server <url>",
      "the Eventail server (default: $EVENTAIL_SERVER, else http://127.0.0.1:$PORT, else :8080)",
    )
    .option("--token <jwt>", "bearer token for eventail:api (default: $EVENTAIL_TOKEN)")
    .option("-n, --namespace <ns>", "namespace", "default");
}

apiVerb(
  program
    .command("get")
    .description("list resources with their status and address (kinds: brokers, triggers, ...)")
    .argument("<kind>", "kind, case-insensitive, singular or plural")
    .argument("[name]", "one resource"),
)
  .option("-A, --all-namespaces", "every namespace")
  .option("-o, --output <format>", "table, yaml or json", "table")
  .action(
    async (kind: string, name: string | undefined, options: import("./get.js").GetOptions) => {
      const { getCommand } = await import("./get.js");
      process.exitCode = await getCommand(kind, name, options);
    },
  );

apiVerb(
  program
    .command("describe")
    .description("one resource: addresses, spec summary and status conditions")
    .argument("<kind>", "kind, case-insensitive, singular or plural")
    .argument("<name>", "the resource"),
).action(async (kind: string, name: string, options: import("./describe.js").DescribeOptions) => {
  const { describeCommand } = await import("./describe.js");
  process.exitCode = await describeCommand(kind, name, options);
});

apiVerb(
  program
    .command("eventtypes")
    .description("the EventType registry")
    .command("codegen")
    .description("print types for the registered EventTypes' data"),
)
  .option("--lang <language>", "typescript", "typescript")
  .option("-A, --all-namespaces", "every namespace")
  .action(async (options: import("./event-types.js").CodegenOptions) => {
    const { codegenCommand } = await import("./event-types.js");
    process.exitCode = await codegenCommand(options);
  });

program
  .command("trace")
  .description("print where an accepted event went: its routes, attempts and outcomes")
  .argument("<event-id>", "the event's ce-id")
  .option("--source <source>", "its ce-source, when the id came from several sources")
  .option("-n, --namespace <ns>", "namespace of the broker or channel it entered", "default")
  .option(
    "--server <url>",
    "Eventail's URL (default: $EVENTAIL_SERVER, else http://127.0.0.1:$PORT, else :8080)",
  )
  .option("--token <jwt>", "bearer token for the operations API (default: $EVENTAIL_TOKEN)")
  .action(async (id: string, options: import("./trace.js").TraceOptions) => {
    const { traceCommand } = await import("./trace.js");
    process.exitCode = await traceCommand(id, options);
  });

program
  .command("tail")
  .description("print accepted events and their delivery outcomes as they happen")
  .option("-n, --namespace <ns>", "only this namespace")
  .option("--broker <name>", "only this broker (its events and its triggers' outcomes)")
  .option("--filter <cesql>", "only events this CESQL expression matches")
  .option(
    "--server <url>",
    "the Eventail server (default: $EVENTAIL_SERVER, else http://127.0.0.1:$PORT, else :8080)",
  )
  .option("--token <jwt>", "bearer token for the operations API (default: $EVENTAIL_TOKEN)")
  .action(async (options: import("./tail.js").TailOptions) => {
    const { tailCommand } = await import("./tail.js");
    process.exitCode = await tailCommand(options);
  });

apiVerb(
  program
    .command("dead-letters")
    .description("list the events whose delivery gave up, or redrive them to their trigger")
    .argument("<action>", "list or redrive"),
)
  .option("-o, --output <format>", "list: table, yaml or json", "table")
  .option("--entry <id>", "redrive: only this entry (repeatable)", collect)
  .option("--id <id>", "redrive: the same as --entry", collect)
  .option("--filter <cesql>", "redrive: only the entries this CESQL expression matches")
  .option(
    "--from-broker <ns/name>",
    "redrive: the archive of a dead-letter Broker with retention, each event to its knativeerrordest",
  )
  .action(async (action: string, options: import("./dead-letters.js").DeadLettersOptions) => {
    const { deadLettersCommand } = await import("./dead-letters.js");
    process.exitCode = await deadLettersCommand(action, options);
  });

program
  .command("replay")
  .description("deliver a broker's archived events again (it needs eventail.io/retention)")
  .requiredOption("--broker <ns/name>", "the broker, as NAMESPACE/NAME")
  .requiredOption("--from <time>", "window start: RFC 3339, or an ISO-8601 duration ago (PT1H)")
  .option("--to <time>", "window end, excluded (default: now)")
  .option("--trigger <name>", "only this trigger (default: every trigger of the broker)")
  .option("--filter <cesql>", "only events this CESQL expression matches")
  .option(
    "--server <url>",
    "the Eventail server (default: $EVENTAIL_SERVER, else http://127.0.0.1:$PORT, else :8080)",
  )
  .option("--token <jwt>", "bearer token for the operations API, admin (default: $EVENTAIL_TOKEN)")
  .action(async (options: import("./replay.js").ReplayOptions) => {
    const { replayCommand } = await import("./replay.js");
    process.exitCode = await replayCommand(options);
  });

await program.parseAsync(process.argv);
