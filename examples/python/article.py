#!/usr/bin/python3
"""The article's notebook, step by step, with the pneumo Python package.

"Medical X-ray Image Classification using Convolutional Neural Network" trains a
small CNN on chest X-rays (Normal vs Pneumonia) with Keras. This script walks the
same steps through libpneumo:

  1. data       ImageDataGenerator.flow_from_directory -> pneumo.Dataset
  2. model      the Sequential CNN and its summary     -> pneumo.Sequential
  3. training   fit with class weights, EarlyStopping and ReduceLROnPlateau
  4. evaluation test accuracy, confusion matrix, sklearn's classification report
  5. diagnosis  "I am 97.31% percent confirmed that this is a Pneumonia case"
  and the notebook's plots as a self-contained HTML report (report.html).

    examples/python/article.py [DATA_DIR] [--full] [options]

DATA_DIR holds train/ and val/ (and optionally test/) with one sub-folder per class
(Normal, Opacity), like the Kaggle "pneumonia-xray-images" download. Without it,
the script generates a small SYNTHETIC dataset with the pneumo-synth program:
bright-blob pictures, NOT X-rays, only good for showing the flow.

By default it runs a short demonstration (128x128 images, 10 epochs, about ten
seconds on synthetic data). --full uses
the article's settings (500x500, 25 epochs, batch 16): hours on a laptop CPU.
The library is found as the package finds it (PNEUMO_LIBRARY, the build tree, ...).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import pneumo
except ImportError:  # running from the source tree
    sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
    import pneumo


def find_synth():
    """The pneumo-synth program: $PNEUMO_SYNTH, the build tree next to the loaded
    library, or PATH."""
    candidates = [os.environ.get("PNEUMO_SYNTH")]
    if os.sep in pneumo.library_path:
        build = os.path.dirname(os.path.dirname(pneumo.library_path))
        candidates.append(os.path.join(build, "examples", "pneumo-synth"))
    candidates.append(shutil.which("pneumo-synth"))
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    sys.exit("article.py: no DATA_DIR given and pneumo-synth not found (build the examples, "
             "set PNEUMO_SYNTH, or pass a data folder)")


def step(n, title):
    print(f"\n=== {n}. {title} " + "=" * max(0, 60 - len(title)), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", help="folder with train/, val/ [, test/] class folders")
    ap.add_argument("--full", action="store_true",
                    help="the article's settings: 500x500, 25 epochs, batch 16")
    ap.add_argument("--size", type=int, help="image side (default 128, 500 with --full)")
    ap.add_argument("--epochs", type=int, help="epochs (default 10, 25 with --full)")
    ap.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    ap.add_argument("--count", type=int, default=40,
                    help="synthetic images per class in train (default 40)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="model threads (0 = all cores)")
    ap.add_argument("--out", help="folder for model.safetensors, best.safetensors, "
                                  "history.csv and report.html (default: a temporary folder)")
    args = ap.parse_args()
    size = args.size or (500 if args.full else 128)
    epochs = args.epochs or (25 if args.full else 10)
    out = args.out or tempfile.mkdtemp(prefix="pneumo-article-")
    os.makedirs(out, exist_ok=True)
    print(f"libpneumo {pneumo.__version__} ({pneumo.library_path}, kernels: "
          f"{pneumo.kernel_isa()})")

    # 1. Data ---------------------------------------------------------------------
    step(1, "Data (ImageDataGenerator.flow_from_directory)")
    data = args.data
    if data is None:
        data = os.path.join(out, "synthetic")
        print(f"No data folder given: generating a SYNTHETIC dataset (not X-rays) in {data}")
        subprocess.run([find_synth(), data, "--count", str(args.count), "--size", str(size),
                        "--seed", str(args.seed)], check=True)
    train_dir, val_dir = os.path.join(data, "train"), os.path.join(data, "val")
    test_dir = os.path.join(data, "test")
    if not os.path.isdir(test_dir):
        print("(no test/ folder: the validation set stands in for the test set)")
        test_dir = val_dir
    # train: rescale=1/255, shear_range=0.2, zoom_range=0.2, horizontal_flip=True, shuffled
    train = pneumo.Dataset.from_directory(train_dir, size=(size, size), augment="article",
                                          shuffle=True, seed=args.seed)
    print(train.report())
    # val: rescale only, shuffled (Keras' default); test: rescale only, shuffle=False
    val = pneumo.Dataset.from_directory(val_dir, size=(size, size), shuffle=True, seed=args.seed)
    print(val.report())
    test = pneumo.Dataset.from_directory(test_dir, size=(size, size), shuffle=False)
    print(test.report())
    print("class indices:", train.class_indices)
    # sklearn compute_class_weight('balanced')
    print("class weights:", train.class_weights())

    # 2. Model ----------------------------------------------------------------------
    step(2, "Model (Sequential CNN) and summary")
    from pneumo import Conv2D, Dense, Flatten, MaxPooling2D, Sequential
    cnn = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(size, size, 1)),
        MaxPooling2D(pool_size=(2, 2)),
        Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Conv2D(64, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Flatten(),
        Dense(activation="relu", units=128),
        Dense(activation="relu", units=64),
        Dense(activation="sigmoid", units=1),
    ], seed=args.seed)
    model = cnn  # the same network as pneumo.Model.article(size, seed)
    if args.threads:
        model.threads = args.threads
    cnn.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    print(model.summary())

    # 3. Training ---------------------------------------------------------------------
    step(3, "Training: fit with class weights and the article's callbacks")
    adam = cnn.optimizer
    best = os.path.join(out, "best.safetensors")
    early = pneumo.EarlyStopping(monitor="val_loss", mode="min", patience=3)
    learning_rate_reduction = pneumo.ReduceLROnPlateau(monitor="val_loss", patience=2, verbose=2,
                                                       factor=0.3, min_lr=0.000001)
    callbacks_list = [early, learning_rate_reduction, pneumo.ModelCheckpoint(best)]
    cw = "balanced"  # compute_class_weight('balanced', ...) over the training set
    t0 = time.time()
    history = cnn.fit(train, epochs=epochs, validation_data=val, class_weight=cw,
                      callbacks=callbacks_list, batch_size=args.batch, verbose=2)
    print(f"{len(history)} epochs in {time.time() - t0:.1f} s"
          f"{' (stopped early)' if history.stopped_early else ''}")
    history.to_csv(os.path.join(out, "history.csv"))
    print("history (Keras' history.history):")
    for key, values in history.history.items():
        print(f"  {key:13s}", ", ".join("-" if v is None else f"{v:.4g}" for v in values))

    # 4. Evaluation ---------------------------------------------------------------------
    step(4, "Evaluation on the test set")
    ev = model.evaluate(test, batch_size=args.batch)
    print(f"loss: {ev['loss']:.4f} - accuracy: {ev['accuracy']:.4f} ({ev['count']} images)")
    print(f"The testing accuracy is : {ev['accuracy'] * 100} %")
    names = test.class_names
    print("Confusion matrix (rows actual, columns predicted):")
    for name, row in zip(names, ev["confusion_matrix"]):
        print(f"  {name:10s} {row}")
    print(ev["classification_report"])
    print("ROC AUC:", "undefined (one class only)" if ev["roc_auc"] is None
          else f"{ev['roc_auc']:.4f}")

    # 5. Diagnosis of one image -----------------------------------------------------------
    step(5, "Diagnosis of one image")
    path = test.path(len(test) - 1)
    probability, label, sentence = model.diagnose(path)
    print(f"{path} (actual: {names[test.label(len(test) - 1)]})")
    print(sentence)
    # the app's way: load_img(grayscale, target_size) -> img_to_array -> predict
    # (uint8 pixels: the model rescales them by its preprocessing, 1/255)
    pixels = pneumo.Image.load(path).resize(size, size).numpy()[None, :, :, None]
    print(f"model.predict on the uint8 image: {float(model.predict(pixels)[0, 0]):.4f} "
          f"(diagnose: {probability:.4f})")

    # The notebook's plots (history curves, confusion heatmap, a 3x3 grid of test
    # images with their predictions) as one self-contained HTML file.
    report = pneumo.Report("Chest X-ray classification (libpneumo, Python)")
    report.add_setting("data", data + (" (SYNTHETIC, not X-rays)" if args.data is None else ""))
    report.add_setting("image size", f"{size}x{size}")
    report.add_setting("epochs", f"{epochs} (ran {len(history)})")
    report.add_setting("batch size", args.batch)
    report.set_model(model).set_history(history)
    report.add_evaluation("Test set", ev, class_names=names)
    report.set_images_title("Test images")
    probs, labels = ev["probs"], ev["labels"]
    for i in range(min(9, len(test))):
        report.add_image(test.path(i), caption=f"{float(probs[i]):.2%} probability of being "
                         f"Pneumonia case\nActual case: {names[int(labels[i])].upper()}")
    report.save_html(os.path.join(out, "report.html"))

    model_path = os.path.join(out, "model.safetensors")
    model.save(model_path, optimizer=adam)
    # to deploy elsewhere: the same network as ONNX (docs/interoperability.md)
    model.export_onnx(os.path.join(out, "model.onnx"))
    reloaded = pneumo.load_model(model_path)
    print(f"pneumo.load_model: {reloaded!r}")
    reloaded.close()
    print(f"\nsaved {model_path}, model.onnx, {best}, history.csv and report.html in {out}")
    for obj in (model, adam, history, train, val, test, report):
        obj.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
