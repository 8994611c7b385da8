import path from "node:path";

/** What `eventail run -f DIR` reads below a directory (kept apart from the YAML loader). */
export const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"] as const;

export function isManifestFile(name: string): boolean {
  return (
    MANIFEST_EXTENSIONS.some((ext) => name.endsWith(ext)) && !path.basename(name).startsWith(".")
  );
}
