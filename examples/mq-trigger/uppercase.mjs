// A tiny "function" for the MessageQueueTrigger example: answers each request with its body in
// upper case, and 500 when the body contains "fail".
import http from "node:http";

const port = Number(process.argv[2] ?? "8090");
http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      console.log(`${request.headers["ce-type"]} ${request.headers["ce-id"]}: ${body}`);
      if (body.includes("fail")) {
        response.writeHead(500, { "content-type": "text/plain" }).end("cannot handle this one");
        return;
      }
      response.writeHead(200, { "content-type": "text/plain" }).end(body.toUpperCase());
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`uppercase listening on ${port}`));
