import {
  type Dirent,
  type FSWatcher,
  readdirSync,
  realpathSync,
  type Stats,
  statSync,
  watch,
} from "node:fs";
import path from "node:path";
import { isManifestFile } from "./manifest-files.js";

/**
 * Calls `onChange` (once per burst, ~100 ms after the last event) when a manifest under `paths`
 * is written, created, deleted or renamed.
 *
 * Directories are watched rather than files: editors that save by writing a new file and renaming
 * it over the old one replace the inode a file watch would follow. Each directory is watched on
 * its own (recursive fs.watch is not dependable on Linux under Node 20), and the set of watched
 * directories is refreshed after every burst so new subdirectories are seen.
 */
export function watchManifests(
  paths: readonly string[],
  onChange: () => void,
  options: { debounceMs?: number } = {},
): { close(): void } {
  const debounceMs = options.debounceMs ?? 100;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fire = () => {
    timer = undefined;
    if (closed) return;
    refresh();
    onChange();
  };
  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  };

  /** What to watch: each directory below a given directory; a given file's parent directory. */
  const targets = (): Map<string, (name: string | null) => boolean> => {
    const wanted = new Map<string, (name: string | null) => boolean>();
    for (const given of paths) {
      const info = statOrUndefined(given);
      if (info?.isDirectory()) {
        for (const dir of directoriesUnder(given)) {
          wanted.set(dir, (name) => {
            if (name === null || isManifestFile(name)) return true;
            // A subdirectory that appeared or went away may hold manifests.
            const full = path.join(dir, name);
            return watchers.has(full) || isDirectory(full);
          });
        }
      } else {
        // A file (or a path that does not exist yet): watch its directory for that name.
        const dir = path.dirname(given);
        const base = path.basename(given);
        const previous = wanted.get(dir);
        wanted.set(dir, (name) => name === null || name === base || (previous?.(name) ?? false));
      }
    }
    return wanted;
  };

  const refresh = () => {
    const wanted = targets();
    for (const [dir, watcher] of watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const [dir, relevant] of wanted) {
      if (watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, (_event, name) => {
          if (relevant(name === null ? null : String(name))) schedule();
        });
        watcher.on("error", () => {
          // The directory went away; the next refresh drops or re-adds it.
          watcher.close();
          watchers.delete(dir);
          schedule();
        });
        watchers.set(dir, watcher);
      } catch {
        // Not there (yet): a later refresh picks it up once it exists.
      }
    }
  };

  refresh();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}

function directoriesUnder(root: string): string[] {
  const out: string[] = [root];
  const seen = new Set<string>();
  for (let i = 0; i < out.length; i++) {
    const real = realpathOrSelf(out[i]!);
    if (seen.has(real)) continue;
    seen.add(real);
    let entries: Dirent[];
    try {
      entries = readdirSync(out[i]!, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = path.join(out[i]!, entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(full))) out.push(full);
    }
  }
  return out;
}

function realpathOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

function isDirectory(file: string): boolean {
  return statOrUndefined(file)?.isDirectory() ?? false;
}
