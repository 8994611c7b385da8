// `npm start` must not make users wait for tsc on every start: build only when a source file is
// newer than the build (or there is no build yet).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const built = "dist/src/cli/main.js";
const consoleBundle = "dist/console/app.js";

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    if (time > latest) latest = time;
  }
  return latest;
}

const builtAt = Math.min(mtime(built) ?? 0, mtime(consoleBundle) ?? 0);
const sourcesAt = Math.max(
  newest("src"),
  newest("ui"),
  newest("crds"),
  mtime("package-lock.json") ?? 0,
);
if (builtAt < sourcesAt) {
  const result = spawnSync("npm", ["run", "build", "--silent"], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
