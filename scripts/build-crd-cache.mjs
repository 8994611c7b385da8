// Writes dist/crds.json and dist/crd-validators (see src/resources/crd-cache.ts) after tsc has
// built the reader.
import { readCrdCache, writeCrdCache, writeValidators } from "../dist/src/resources/crd-cache.js";
import { compileValidators, crdsDirectory, readCrds } from "../dist/src/resources/schema.js";

const crds = crdsDirectory();
writeCrdCache(crds, readCrds);
writeValidators(crds, compileValidators(readCrdCache(crds)?.values() ?? []));
