import assert from "node:assert/strict";
import { trackPeakRss } from "../lib/training/memory.ts";

Deno.test("the peak RSS tracker sees an allocation that is freed again", async () => {
  const tracker = trackPeakRss(5);
  const before = tracker.peak();
  let big: Uint8Array | null = new Uint8Array(64 * 2 ** 20).fill(1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(big[123], 1);
  big = null;
  const peak = tracker.stop();
  assert.ok(peak >= before + 32 * 2 ** 20, `peak ${peak} vs before ${before}`);
});
