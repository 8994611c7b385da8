/**
 * `/ui/` (CONTRACT §12): the web console's static files, built by `npm run build` into
 * `dist/console/`. The files are public (CONTRACT §10): the console asks for a token and sends it
 * on its own API calls. Paths that name no file get index.html, so a deep link opens the console.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { errorBody, HttpError } from "./errors.js";

export const CONSOLE_PREFIX = "/ui/";

/**
 * Where the built console is: next to the compiled server (`dist/src/server` → `dist/console`),
 * or, when the server runs from its TypeScript source, in the build output (`dist/console`).
 */
export function defaultConsoleDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(here, "../../console"),
    path.resolve(here, "../../dist/console"),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, "index.html")));
}

export function registerConsole(app: FastifyInstance, root: string | undefined): void {
  app.get("/ui", async (_request, reply) => reply.redirect(CONSOLE_PREFIX, 301));
  if (root === undefined || !existsSync(path.join(root, "index.html"))) {
    app.get("/ui/*", async () => {
      throw new HttpError("NOT_FOUND", "the web console is not built: run npm run build");
    });
    return;
  }
  app.register(
    async (scope) => {
      await scope.register(fastifyStatic, { root, prefix: "/", index: "index.html" });
      // A deep link (a view's own path) is the single page's business, not a missing file.
      scope.setNotFoundHandler((request, reply) => {
        // A missing asset (a name with an extension) stays a 404: only views fall back.
        const last = request.url.split("?")[0]!.split("/").pop() ?? "";
        if ((request.method !== "GET" && request.method !== "HEAD") || last.includes(".")) {
          reply
            .code(404)
            .send(errorBody("NOT_FOUND", `nothing is served at ${request.method} ${request.url}`));
          return;
        }
        reply.header("cache-control", "no-cache").sendFile("index.html");
      });
    },
    { prefix: "/ui" },
  );
}
