import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { registerApi } from "../../src/server/api.js";
import { errorBody, toHttpError } from "../../src/server/errors.js";
import { apiTokens } from "./support.js";

const ISSUER = "http://eventail.test";
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The API with authentication on, over a real socket, and a store that counts redrives. */
async function serve() {
  const { verifier, bearer } = apiTokens(ISSUER);
  let redrives = 0;
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
  app.setErrorHandler((error, _request, reply) => {
    const http = toHttpError(error);
    reply.code(http.statusCode).send(errorBody(http.code, http.message));
  });
  registerApi(app, {
    guard: { enabled: () => true, verifier },
    resources: { list: () => [], get: () => undefined },
    deadLetters: {
      list: async () => [],
      redrive: async () => {
        redrives++;
        return { redriven: 0, failed: 0 };
      },
    },
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  closers.push(() => app.close());
  return { url, bearer, redrives: () => redrives };
}

describe("the dead-letter routes with authentication on", () => {
  it("reading needs an API token; a redrive needs the admin claim too", async () => {
    const { url, bearer, redrives } = await serve();
    const get = (authorization?: string) =>
      fetch(
        `${url}/api/v1/deadletters?namespace=default`,
        authorization ? { headers: { authorization } } : {},
      );
    const post = (authorization?: string) =>
      fetch(`${url}/api/v1/deadletters/redrive`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(authorization ? { authorization } : {}),
        },
        body: JSON.stringify({ namespace: "default" }),
      });
    expect((await get()).status).toBe(401);
    expect((await get(bearer())).status).toBe(200);
    expect((await post()).status).toBe(401);
    const viewer = await post(bearer());
    expect(viewer.status).toBe(403);
    expect(((await viewer.json()) as { code: string }).code).toBe("FORBIDDEN");
    expect(redrives()).toBe(0);
    const admin = await post(bearer({ "eventail.io/role": "admin" }));
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual({ redriven: 0, failed: 0 });
    expect(redrives()).toBe(1);
  });
});
