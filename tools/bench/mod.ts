/**
 * The front door of `deno task bench`'s tooling: measure (one backend; the article's epoch),
 * anchors (the PyTorch and Keras peers), scale (growing datasets), format (table, JSON), run
 * (the whole benchmark).
 *
 * @module
 */
export * from "./measure.ts";
export * from "./article.ts";
export * from "./anchors.ts";
export * from "./scale.ts";
export * from "./format.ts";
export * from "./run.ts";
