/**
 * Data: scan image folders as Keras' `flow_from_directory` does, decode and resize as PIL does,
 * augment as Keras 2's `ImageDataGenerator`, seeded endless batches, dataset sources (the article,
 * CIFAR-10, a local folder or archive) and cached, hash-checked downloads.
 *
 * @module
 */
export * from "./archive.ts";
export * from "./array_source.ts";
export * from "./augment.ts";
export * from "./batches.ts";
export * from "./dataset.ts";
export * from "./download.ts";
export * from "./images.ts";
export * from "./layout.ts";
export * from "./sources.ts";
export * from "./staging.ts";
export * from "./shapes.ts";
export * from "./subsets.ts";
