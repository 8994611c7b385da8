// The filter of the Parallel example's second branch: replies with the event unchanged (so the
// branch's subscriber gets it) when its JSON data has `amount` over 100, and with 202 and no
// event (so the branch stops) otherwise.
// Usage: node big-orders.mjs [PORT]
import http from "node:http";

const port = Number(process.argv[2] ?? "8083");

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks);
      let amount = 0;
      try {
        amount = Number(JSON.parse(body.toString("utf8")).amount ?? 0);
      } catch {
        // not JSON: not a big order
      }
      const id = request.headers["ce-id"];
      if (!(amount > 100)) {
        console.log(`${id}: amount ${amount}, not a big order`);
        response.writeHead(202).end();
        return;
      }
      console.log(`${id}: amount ${amount}, a big order`);
      // Binary mode: the ce- headers and the body as they came are the event.
      const headers = {};
      for (const [name, value] of Object.entries(request.headers)) {
        if (name.startsWith("ce-") || name === "content-type") headers[name] = value;
      }
      response.writeHead(200, headers).end(body);
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`big-orders filter listening on ${port}`));
