import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ValidateFunction } from "ajv";
import { afterEach, describe, expect, it } from "vitest";
import {
  crdFiles,
  readCrdCache,
  readValidatorIndex,
  writeCrdCache,
  writeValidators,
} from "../../src/resources/crd-cache.js";
import { manifestSchema } from "../../src/resources/openapi.js";
import {
  CRD_FORMATS,
  compileValidators,
  crdsDirectory,
  createCrdAjv,
  readCrds,
} from "../../src/resources/schema.js";

const require = createRequire(import.meta.url);

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

  it("compiles validators that answer as the run-time Ajv does, errors included", () => {
    const crds = copyOfCrds();
    expect(readValidatorIndex(crds)).toBeUndefined();
    writeCrdCache(crds, readCrds);
    const documents = readCrdCache(crds)!;
    writeValidators(crds, compileValidators(documents.values()));
    const index = readValidatorIndex(crds)!;
    const ajv = createCrdAjv();
    const bodies: unknown[] = [
      {},
      { spec: 1 },
      { spec: {} },
      { spec: { unknown: true } },
      { spec: { delivery: { retry: -1, backoffDelay: "soon", backoffPolicy: "random" } } },
      { spec: { schedule: 5, sink: { uri: 7, ref: {} } } },
      {
        spec: { subscriber: { ref: { kind: "", name: "" } }, filter: { attributes: { "a b": 1 } } },
      },
    ];
    let compared = 0;
    for (const crd of [...documents.values()].flat() as Array<{
      spec: {
        group: string;
        names: { kind: string };
        versions: Array<{
          name: string;
          served: boolean;
          schema: { openAPIV3Schema: Record<string, unknown> };
        }>;
      };
    }>) {
      for (const version of crd.spec.versions.filter((v) => v.served)) {
        const key = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
        const built = (
          require(index.get(key)!) as (f: unknown, r: NodeJS.Require) => ValidateFunction
        )(CRD_FORMATS, require);
        const live = ajv.compile(manifestSchema(version.schema.openAPIV3Schema));
        for (const body of bodies) {
          expect([key, built(body), built.errors]).toEqual([key, live(body), live.errors]);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
  });
});
