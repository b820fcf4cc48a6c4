/**
 * Models: the article's baseline CNN, pretrained bases (VGG16 with Keras' weight file, MobileNet),
 * the transfer head, Keras-style summaries, Keras HDF5 weights, saving and loading models, and
 * predictions on image files.
 *
 * @module
 */
export * from "./base.ts";
export * from "./baseline.ts";
export * from "./bases.ts";
export * from "./custom_layers.ts";
export * from "./gradcam.ts";
export * from "./head.ts";
export * from "./keras_h5.ts";
export * from "./mobilenet.ts";
export * from "./model_io.ts";
export * from "./predict.ts";
export * from "./summary.ts";
export * from "./vgg16.ts";
