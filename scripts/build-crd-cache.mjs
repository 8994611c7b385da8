// Writes dist/crds.json (see src/resources/crd-cache.ts) after tsc has built the reader.
import { writeCrdCache } from "../dist/src/resources/crd-cache.js";
import { crdsDirectory, readCrds } from "../dist/src/resources/schema.js";

writeCrdCache(crdsDirectory(), readCrds);
