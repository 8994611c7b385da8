import Fastify from "fastify";
import type { CloudEvent } from "../events/event.js";
import { decodeHttpRequest } from "../events/http-binding.js";

/** Prints an event the way Knative's event-display does: attributes, extensions, then data. */
function describeEvent(event: CloudEvent): string {
  const lines = ["☁️  cloudevents.Event", "Context Attributes,"];
  const core = [
    "specversion",
    "type",
    "source",
    "subject",
    "id",
    "time",
    "dataschema",
    "datacontenttype",
  ];
  for (const name of core) {
    const value = event.attributes[name];
    if (value !== undefined) lines.push(`  ${name}: ${value}`);
  }
  const extensions = Object.keys(event.attributes)
    .filter((name) => !core.includes(name))
    .sort();
  if (extensions.length > 0) {
    lines.push("Extensions,");
    for (const name of extensions) lines.push(`  ${name}: ${event.attributes[name]}`);
  }
  if (event.data !== undefined) {
    lines.push("Data,");
    const text = event.data.toString("utf8");
    let shown = text;
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // not JSON: print as is
    }
    lines.push(...shown.split("\n").map((line) => `  ${line}`));
  }
  return `${lines.join("\n")}\n`;
}

/** `eventail display`: a sink that prints every CloudEvent it receives and answers 202. */
export async function displayCommand(host: string, port: number): Promise<number> {
  const app = Fastify({ bodyLimit: 64 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  app.post("/*", async (request, reply) => {
    try {
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      for (const event of decodeHttpRequest(request.headers, body).events) {
        process.stdout.write(describeEvent(event));
      }
      reply.code(202).send();
    } catch (error) {
      process.stderr.write(`not a CloudEvent: ${(error as Error).message}\n`);
      reply.code(400).send({ error: (error as Error).message, code: "INVALID_EVENT" });
    }
  });
  await app.listen({ host, port });
  process.stderr.write(`eventail display listening on http://${host}:${port}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await app.close();
  return 0;
}
