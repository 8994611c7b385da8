import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { crdFiles, readCrdCache, writeCrdCache } from "../../src/resources/crd-cache.js";
import { crdsDirectory, readCrds } from "../../src/resources/schema.js";

describe("the build-time CRD cache", () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  function copyOfCrds(): string {
    const root = mkdtempSync(path.join(tmpdir(), "crd-cache-"));
    roots.push(root);
    const crds = path.join(root, "crds");
    cpSync(crdsDirectory(), crds, { recursive: true });
    mkdirSync(path.join(root, "dist"));
    return crds;
  }

  it("gives back what the YAML reader parses, file by file", () => {
    const crds = copyOfCrds();
    expect(readCrdCache(crds)).toBeUndefined();
    writeCrdCache(crds, readCrds);
    const cached = readCrdCache(crds);
    expect(cached).toBeDefined();
    const files = crdFiles(crds);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(cached?.get(file)).toEqual(readCrds(path.join(crds, file)));
    }
  });

  it("is not used once a CRD file has changed since the build", () => {
    const crds = copyOfCrds();
    writeCrdCache(crds, readCrds);
    appendFileSync(path.join(crds, crdFiles(crds)[0]!), "\n# edited\n");
    expect(readCrdCache(crds)).toBeUndefined();
  });
});
