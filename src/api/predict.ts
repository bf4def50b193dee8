/** `loadModel()` and `predict()`: class probabilities of images from a trained model file (as `cifar-mlp predict`). */
export { loadModel, predict, type ImageSource, type LoadModelOptions, type Model, type Prediction } from '../experiment/predict-model.js';
