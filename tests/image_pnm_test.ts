/** The PPM/PGM/PBM decoder. */
import assert from "node:assert/strict";
import { decodePnm } from "../lib/data/image_pnm.ts";
import { ImageDecodeError } from "../lib/data/image_types.ts";
import { encodePpm, fixturePixels } from "./fixtures.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("binary PPM and ASCII PGM/PBM decode as PIL reads them", () => {
  const pixels = fixturePixels(3, 4, 0, 2);
  assert.deepEqual(decodePnm(encodePpm(pixels, 4, 3), "a.ppm").data, pixels);
  assert.deepEqual([...decodePnm(text("P2 2 1 255 0 200"), "g.pgm").data], [
    0,
    0,
    0,
    200,
    200,
    200,
  ]);
  // PBM: 1 is black.
  assert.deepEqual([...decodePnm(text("P1 2 1 1 0"), "b.pbm").data], [0, 0, 0, 255, 255, 255]);
});

Deno.test("a malformed header or truncated pixels are ImageDecodeErrors", () => {
  assert.throws(
    () => decodePnm(text("P6 2"), "h.ppm"),
    (e: unknown) => e instanceof ImageDecodeError && /malformed or truncated/.test(e.reason),
  );
  assert.throws(() => decodePnm(text("P6 2 2 255 abc"), "p.ppm"), /pixel data is truncated/);
});
