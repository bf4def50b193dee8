/** `loadModel()` and `predict()`: class probabilities of images from a trained model file (as `cifar-mlp predict`). */
import * as models from '../experiment/predict-model.js';
import type { ImageSource, LoadModelOptions, Model, Prediction } from '../experiment/predict-model.js';
import { checkArgument, imagesArgument, loadModelOptionsArgument, modelArgument, modelPathArgument } from './arguments.js';

export type { ImageSource, LoadModelOptions, Model, Prediction };

/** A trained model (model.json, or a run folder holding one) ready to predict; `dispose()` it when done. */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  checkArgument('loadModel(): path', modelPathArgument, path);
  checkArgument('loadModel(): options', loadModelOptionsArgument, options);
  return models.loadModel(path, options);
}

/**
 * Class probabilities of `images` from a model: a model file or run folder (loaded, used and disposed), or a Model
 * from `loadModel` (kept).
 */
export async function predict(model: string | Model, images: ImageSource | readonly ImageSource[], options: LoadModelOptions = {}): Promise<Prediction[]> {
  checkArgument('predict(): model', modelArgument, model);
  checkArgument('predict(): images', imagesArgument, images);
  checkArgument('predict(): options', loadModelOptionsArgument, options);
  return models.predict(model, images, options);
}
