// Bundles the web console (ui/) into dist/console/ (or --outdir DIR): one minified script, its
// stylesheet and index.html, no source maps, nothing fetched at run time (CONTRACT §12).
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const flag = process.argv.indexOf("--outdir");
const outdir = flag === -1 ? path.join(root, "dist/console") : path.resolve(process.argv[flag + 1]);

mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: [path.join(root, "ui/main.tsx")],
  outfile: path.join(outdir, "app.js"),
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) {
  copyFileSync(path.join(root, "ui", file), path.join(outdir, file));
}
