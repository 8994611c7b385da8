// A step function for the Sequence example: takes a CloudEvent (binary or structured mode) whose
// data is a JSON object, appends its name to `data.steps`, and replies with the modified event
// (binary mode, type `<type>.<name>`), which the Sequence passes to the next step.
// Usage: node appender.mjs PORT NAME
import http from "node:http";

const port = Number(process.argv[2] ?? "8081");
const name = process.argv[3] ?? `step-${port}`;

/** The event's attributes and data, from either content mode. */
function readEvent(headers, body) {
  if (String(headers["content-type"] ?? "").startsWith("application/cloudevents+json")) {
    const { data, data_base64: _base64, ...attributes } = JSON.parse(body.toString("utf8"));
    return { attributes, data };
  }
  const attributes = {};
  for (const [header, value] of Object.entries(headers)) {
    if (header.startsWith("ce-")) attributes[header.slice(3)] = decodeURIComponent(value);
  }
  const text = body.toString("utf8");
  return { attributes, data: text === "" ? {} : JSON.parse(text) };
}

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      let event;
      try {
        event = readEvent(request.headers, Buffer.concat(chunks));
      } catch (error) {
        response.writeHead(400, { "content-type": "text/plain" }).end(`${error.message}\n`);
        return;
      }
      const data = typeof event.data === "object" && event.data !== null ? event.data : {};
      const reply = { ...data, steps: [...(Array.isArray(data.steps) ? data.steps : []), name] };
      console.log(`${name}: ${event.attributes.id} ${JSON.stringify(reply)}`);
      response
        .writeHead(200, {
          "ce-specversion": "1.0",
          "ce-id": `${event.attributes.id}-${name}`,
          "ce-source": `/examples/sequence/${name}`,
          "ce-type": `${event.attributes.type}.${name}`,
          "content-type": "application/json",
        })
        .end(JSON.stringify(reply));
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`${name} listening on ${port}`));
