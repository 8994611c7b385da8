import http from "node:http";

/**
 * POSTs to `url` with a body that never ends (chunked, one 64 KiB chunk sent) and resolves with
 * the status of the answer that comes regardless, which proves the server answered without
 * reading the whole body. Rejects when no answer comes within `ms`: a server that waits for the
 * body's end never answers here.
 */
export function statusBeforeBodyEnds(
  url: string,
  headers: Record<string, string> = {},
  ms = 10_000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", ...headers },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer from ${url} while its body was still being sent`));
    }, ms);
    request.once("response", (response) => {
      clearTimeout(timer);
      response.resume();
      request.destroy();
      resolve(response.statusCode ?? 0);
    });
    request.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.write(Buffer.alloc(64 * 1024, 0x61));
  });
}
