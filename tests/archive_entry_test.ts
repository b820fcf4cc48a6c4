/** The unpack budget shared by the archive readers. */
import assert from "node:assert/strict";
import { ArchiveError, DEFAULT_ARCHIVE_LIMITS, UnpackBudget } from "../lib/data/archive_entry.ts";

Deno.test("the budget counts per entry, in total and against the packed size", () => {
  let packed = 10;
  const b = new UnpackBudget(
    "a.tar.gz",
    { maxEntryBytes: 100, maxTotalBytes: 150, maxRatio: 12, ratioCheckAfterBytes: 50 },
    () => packed,
  );
  b.startEntry("one");
  b.add(100);
  assert.throws(() => b.add(1), /entry "one" unpacks to more than 100 B/);
  b.startEntry("two");
  packed = 1000;
  b.add(49);
  assert.throws(() => b.add(2), /unpacks to more than 150 B in all/);
  const r = new UnpackBudget("z.zip", { maxRatio: 2, ratioCheckAfterBytes: 10 }, () => 5);
  r.startEntry("x");
  r.add(10);
  assert.throws(() => r.add(1), (e: unknown) => e instanceof ArchiveError && e.entry === "x");
});

Deno.test("the default limits are the documented ones", () => {
  assert.deepEqual({ ...DEFAULT_ARCHIVE_LIMITS }, {
    maxEntryBytes: 1024 ** 3,
    maxTotalBytes: 4 * 1024 ** 3,
    maxEntries: 1_000_000,
    maxRatio: 200,
    ratioCheckAfterBytes: 64 * 1024 ** 2,
  });
});
