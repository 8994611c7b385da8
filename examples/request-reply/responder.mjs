// The responder of the RequestReply example: answers each question (binary mode, JSON data
// `{"a": N, "b": M}`) with a reply event carrying the question's correlation id as `replyid`.
// Usage: node responder.mjs PORT
import http from "node:http";

const port = Number(process.argv[2] ?? "8081");

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const correlation = request.headers["ce-correlationid"];
      let data;
      try {
        data = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        data = undefined;
      }
      if (correlation === undefined || typeof data?.a !== "number" || typeof data?.b !== "number") {
        // Not a question this responder can answer: accepted, no reply.
        response.writeHead(202).end();
        return;
      }
      const id = decodeURIComponent(request.headers["ce-id"]);
      console.log(`question ${id}: ${data.a} x ${data.b}`);
      response
        .writeHead(200, {
          "ce-specversion": "1.0",
          "ce-id": `answer-${request.headers["ce-id"]}`,
          "ce-source": "/examples/request-reply/responder",
          "ce-type": "dev.example.answer",
          // Passed back exactly as it came: the RequestReply checks it.
          "ce-replyid": correlation,
          "content-type": "application/json",
        })
        .end(JSON.stringify({ product: data.a * data.b }));
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`responder listening on ${port}`));
