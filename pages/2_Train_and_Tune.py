"""Train & Tune page: launch a training run or a Keras-Tuner search in the background, watch it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core.app.charts import learning_curves
from fer_core.app.dashboard import active_dataset_path, finished_runs, registry, run_label, settings
from fer_core.training.jobs import cancel, describe_progress, describe_workers, log_tail, requeue, submit
from fer_core.models import list_models
from fer_core.inference.loading import bundled_models
from fer_core.training.presets import FINETUNE_START, PRESETS, recipe_values
from fer_core.training.progress import read_progress
from fer_core.settings import list_datasets, resolve_under_root
from fer_core.training.train import CLASS_WEIGHTS, LR_SCHEDULES, OPTIMIZERS, TrainConfig
from fer_core.training.history import read_history
from fer_core.training.tune import TUNERS, TuneConfig

st.set_page_config(page_title="Train & Tune - FER Studio", page_icon=":performing_arts:", layout="wide")
st.title("Train & Tune")
config = settings()

# ---------------------------------------------------------------- which data
candidates = [str(resolve_under_root(config.data_root, c)) for c in list_datasets(config.data_root)]
active = active_dataset_path()
if active is not None and str(active) not in candidates:
    candidates.insert(0, str(active))  # an uploaded dataset
if not candidates:
    st.warning(f"No dataset yet: choose or upload one on the Dataset page (data folder `{config.data_root}`).")
    st.stop()
data_path = st.selectbox("Dataset", candidates, format_func=lambda p: Path(p).name,
                         index=candidates.index(str(active)) if active and str(active) in candidates else 0)

# ---------------------------------------------------------------- the form
mode = st.radio("What to run", ["Train once", "Tune with Keras-Tuner"], horizontal=True)
recipe = "custom"
if mode == "Train once":
    recipe = st.radio("Start from", ["custom", *PRESETS, "model"], horizontal=True,
                      format_func=lambda r: {"custom": "my own settings", "model": "a trained model (fine-tune)"}.get(
                          r, f"the '{r}' preset"),
                      help="quick: the best model 29 minutes of a 2-core CPU train; gpu: a few minutes of one "
                           "GPU (both time budgets); measured in docs/results.md and docs/gpu.md. A trained "
                           "model: its weights are the start, on this dataset (your own faces, say)")
# The form starts from TrainConfig's defaults, or the preset's values; widget keys carry the
# recipe so switching it refills the form.
start = {**recipe_values(None), **FINETUNE_START} if recipe == "model" else recipe_values(
    None if recipe == "custom" else recipe)
models = list_models()
parents = {"default": "the default model", **{name: f"the bundled '{name}' model" for name in bundled_models()},
           **{r.run_dir: f"run {run_label(r)}" for r in finished_runs(config.runs_dir)}}
with st.form("launch"):
    left, right = st.columns(2)
    if recipe == "model":
        parent = left.selectbox("Model to start from", list(parents), format_func=parents.get,
                                help="its architecture and weights; loaded in safe mode")
        architecture = start["model"]
    else:
        architecture = left.selectbox("Architecture", models, index=models.index(start["model"]),
                                      key=f"arch-{recipe}")
    data_fraction = right.slider("Share of the training data (stratified; small = quick)", 0.01, 1.0, 1.0, 0.01)
    if mode == "Train once":
        a, b, c, d = st.columns(4)
        epochs = a.number_input("Epochs", 1, 500, start["epochs"], key=f"epochs-{recipe}",
                                help="with a time budget: the most it may train")
        batch_sizes_offered = [32, 64, 128, 256]
        batch_size = b.selectbox("Batch size", batch_sizes_offered,
                                 index=batch_sizes_offered.index(start["batch_size"]), key=f"batch-{recipe}")
        lr = c.number_input("Learning rate", 1e-6, 1.0, start["lr"], format="%.0e", key=f"lr-{recipe}")
        validate_last = d.number_input("Validate in the last N epochs (0 = every epoch)", 0, 500,
                                       start["validate_last"], key=f"vallast-{recipe}",
                                       help="skips the val pass before them (seconds per epoch on a CPU); "
                                            "the best model is picked among the validated epochs")
        a, b, c, d = st.columns(4)
        time_budget = a.number_input("Time budget (minutes, 0 = off)", 0.0, 10000.0, float(start["time_budget"]),
                                     1.0, key=f"budget-{recipe}",
                                     help="a few timed steps on this machine choose how many epochs fit "
                                          "(at most Epochs); the run's log and config say what was planned")
        warmup_epochs = b.number_input("Warm-up epochs (onecycle: 0 = 30% of the run)", 0.0, 100.0,
                                       float(start["warmup_epochs"]), 0.5, key=f"warmup-{recipe}",
                                       help="linear warm-up from lr/25 (cosine and onecycle schedules)")
        momentum = c.number_input("Momentum (sgd)", 0.0, 0.999, float(start["momentum"]), 0.01,
                                  key=f"momentum-{recipe}", help="Nesterov momentum of the sgd optimizer")
        mixed_precision = d.checkbox("Mixed precision", start["mixed_precision"], key=f"mixed-{recipe}",
                                     help="16-bit compute with float32 weights: bfloat16 on CPUs that have it, "
                                          "float16 on a GPU; ignored elsewhere. The saved model computes in "
                                          "float32.")
        a, b, c = st.columns(3)
        schedule = a.selectbox("Learning-rate schedule", LR_SCHEDULES, index=LR_SCHEDULES.index(start["lr_schedule"]),
                               help="onecycle: warm-up for 30% of the run, then cosine; plateau: halve on a stall",
                               key=f"schedule-{recipe}")
        optimizer = b.selectbox("Optimizer", OPTIMIZERS, index=OPTIMIZERS.index(start["optimizer"]),
                                help="sgd uses Nesterov momentum 0.9", key=f"optimizer-{recipe}")
        weight_decay = c.number_input("Weight decay", 0.0, 0.1, start["weight_decay"], format="%.0e",
                                      key=f"wd-{recipe}")
        a, b, c = st.columns(3)
        if recipe == "model":  # the architecture is the parent's; what to keep of it is the question
            freeze = a.selectbox("Freeze", ["body", "none", "1", "2", "3"],
                                 format_func=lambda f: {"body": "all but the head", "none": "nothing"}.get(
                                     f, f"the first {f} stage(s)"),
                                 help="frozen layers keep the model's weights (its batch-norm statistics too)")
            unfreeze_after = b.number_input("Unfreeze after epoch (0 = never)", 0, 500, 0,
                                            help="then everything trains, at a tenth of the learning rate")
            detect = c.checkbox("Crop faces with the detector", False,
                                help="the dataset holds whole photos: crop each one's largest face as the "
                                     "Predict page does")
            filters, dense_units, dropout = "", None, None
        else:
            filters = a.text_input("Filters per conv block", ", ".join(map(str, start["filters"] or [])),
                                   placeholder="the architecture's default", help="stage widths, e.g. 32, 64, 128",
                                   key=f"filters-{recipe}")
            dense_units = b.number_input("Dense units", 0, 4096, start["dense_units"],
                                         placeholder="the architecture's default", key=f"dense-{recipe}")
            dropout = c.number_input("Dropout", 0.0, 0.9, start["dropout"], placeholder="the architecture's default",
                                     key=f"dropout-{recipe}")
        a, b, c = st.columns(3)
        augment = a.slider("Augmentation strength (0 = off)", 0.0, 1.0, start["augment_strength"], 0.05,
                           help="flip, rotation, shift, zoom and contrast together, inside the model's "
                                "compiled step (fast on CPU and GPU)",
                           key=f"augment-{recipe}")
        crop_padding = b.number_input("Random crop padding (pixels, 0 = off)", 0, 12, start["crop_padding"],
                                      help="shift each face by up to N pixels, edges repeated (a crop of the "
                                           "edge-padded face), inside the model",
                                      key=f"crop-{recipe}")
        crop_size = c.number_input("Training crop (pixels, 0 = whole face)", 0, 48, start["crop_size"],
                                   help="train on a random window of each 48x48 face, the centre one at "
                                        "inference; 40 needs about 3/4 of the compute per epoch",
                                   key=f"cropsize-{recipe}")
        a, b, c = st.columns(3)
        erasing = a.slider("Random erasing (probability)", 0.0, 1.0, start["erasing"], 0.05, key=f"erasing-{recipe}")
        label_smoothing = b.slider("Label smoothing", 0.0, 0.3, start["label_smoothing"], 0.05, key=f"ls-{recipe}")
        class_weight = c.selectbox("Class weights", CLASS_WEIGHTS, index=CLASS_WEIGHTS.index(start["class_weight"]),
                                   help="balanced or sqrt lift rare classes (disgust)", key=f"cw-{recipe}")
        a, b, c = st.columns(3)
        mixup = a.slider("Mixup alpha (0 = off)", 0.0, 1.0, start["mixup"], 0.1, key=f"mixup-{recipe}")
        cutmix = b.slider("CutMix alpha (0 = off)", 0.0, 1.0, start["cutmix"], 0.1, key=f"cutmix-{recipe}")
        flip = c.checkbox("Random horizontal flip", start["flip"], key=f"flip-{recipe}")
        preset_args = start.get("model_args") if recipe != "custom" else None
        if preset_args:
            st.caption(f"The preset also sets, for `{start['model']}`: "
                       + ", ".join(f"`{k}={v}`" for k, v in preset_args.items())
                       + (f"; a resume checkpoint at most every {start['checkpoint_minutes']:g} min"
                          if start["checkpoint_minutes"] else ""))
    else:
        a, b, c = st.columns(3)
        tuner = a.selectbox("Tuner", TUNERS)
        max_trials = b.number_input("Max trials (random, bayesian)", 1, 200, 10)
        epochs = c.number_input("Epochs per trial (max for hyperband)", 1, 200, 10)
        a, b = st.columns(2)
        lr_range = a.select_slider("Learning-rate range", options=[1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
                                   value=(1e-4, 1e-2))
        augment_range = b.slider("Augmentation strength range", 0.0, 1.0, (0.0, 1.0), 0.25)
        a, b, c = st.columns(3)
        batch_sizes = a.multiselect("Batch sizes", [32, 64, 128, 256], default=[32, 64, 128])
        base_filters = b.multiselect("Base filters", [16, 32, 48, 64, 96], default=[16, 32, 48, 64])
        dense_choices = c.multiselect("Dense units", [64, 128, 256, 512, 1024], default=[128, 256, 512])
        parallel = st.number_input("Parallel workers (0 = trials one after another)", 0, 16, 0,
                                   help="Keras-Tuner's distributed mode: the job serves the trials to this many "
                                        "worker processes; on a 2-core machine 2 gain little (docs/performance.md)")
    launched = st.form_submit_button("Launch", type="primary")

if launched:
    try:
        if mode == "Train once":
            job = TrainConfig(data=data_path, model=architecture, epochs=int(epochs), batch_size=int(batch_size),
                              lr=float(lr), lr_schedule=schedule, optimizer=optimizer,
                              weight_decay=float(weight_decay), warmup_epochs=float(warmup_epochs),
                              momentum=float(momentum),
                              filters=[int(f) for f in filters.replace(",", " ").split()] or None,
                              dense_units=None if dense_units is None else int(dense_units),
                              dropout=None if dropout is None else float(dropout), augment_strength=float(augment),
                              erasing=float(erasing), mixup=float(mixup), cutmix=float(cutmix),
                              crop_padding=int(crop_padding), crop_size=int(crop_size), flip=bool(flip),
                              class_weight=class_weight, label_smoothing=float(label_smoothing),
                              model_args=dict(preset_args) if preset_args and architecture == start["model"] else {},
                              validate_last=int(validate_last), time_budget=float(time_budget),
                              mixed_precision=bool(mixed_precision), data_fraction=float(data_fraction),
                              checkpoint_minutes=float(start["checkpoint_minutes"]),
                              **({"init_from": parent, "freeze": freeze, "unfreeze_after": int(unfreeze_after),
                                  "detect_faces": bool(detect)} if recipe == "model" else {}))
        else:
            if not (batch_sizes and base_filters and dense_choices):
                raise ValueError("pick at least one batch size, base filter count and dense size")
            job = TuneConfig(data=data_path, model=architecture, tuner=tuner, max_trials=int(max_trials),
                             epochs=int(epochs), lr_min=lr_range[0], lr_max=lr_range[1], batch_sizes=batch_sizes,
                             base_filters=base_filters, dense_units=dense_choices, augment_min=augment_range[0],
                             augment_max=augment_range[1], data_fraction=float(data_fraction),
                             workers=int(parallel))
        run_id = submit(config.runs_dir, job, max_running=config.max_jobs)
        st.success(f"Queued `{run_id}`. It runs in the background: reloading the page or restarting the server "
                   "does not stop it.")
    except (ValueError, OSError) as exc:
        st.error(f"Cannot launch: {exc}")

# ---------------------------------------------------------------- the jobs


@st.fragment(run_every=2)
def jobs_panel() -> None:
    if not config.runs_dir.is_dir():
        st.info("No jobs yet.")
        return
    records = registry(config.runs_dir).list()[:30]
    if not records:
        st.info("No jobs yet.")
        return
    st.caption(f"At most {config.max_jobs} job(s) run at once (FER_MAX_JOBS); the rest wait as queued.")
    st.dataframe(pd.DataFrame([{"run": r.run_id, "kind": r.kind, "status": r.status,
                                "val accuracy": r.metrics.get("val_accuracy"), "error": r.error}
                               for r in records]), hide_index=True, key="jobs_table")
    for record in records[:8]:
        progress = read_progress(record.run_dir)
        fraction, words = describe_progress(progress, record.status)
        with st.container(border=True):
            head, button = st.columns([5, 1])
            head.markdown(f"**{record.run_id}** &nbsp; `{record.status}`")
            head.progress(fraction, text=words)
            if record.status == "running":
                for line in describe_workers(progress):  # a distributed search: each worker's trial and epoch
                    head.caption(line)
            if record.status in ("queued", "running"):
                if button.button("Cancel", key=f"cancel-{record.run_id}"):
                    st.toast(cancel(config.runs_dir, record.run_id))
            elif record.status in ("failed", "cancelled"):
                if button.button("Resume", key=f"resume-{record.run_id}"):
                    requeue(config.runs_dir, record.run_id, max_running=config.max_jobs)
                    st.toast(f"{record.run_id} queued again; it continues from its last checkpoint")
            # Curves while a job runs; finished runs have theirs on the Results page.
            history = read_history(record.run_dir) if record.kind == "train" else progress.get("history") or []
            if history and record.status == "running":
                title = f"trial {progress.get('trial')}" if record.kind == "tune" and progress.get("trial") else ""
                st.plotly_chart(learning_curves(history, title), key=f"curves-{record.run_id}")
            if record.status in ("failed", "cancelled"):
                with st.expander("Log"):
                    st.code(log_tail(record.run_dir) or "(no log)", language=None)


st.subheader("Jobs")
jobs_panel()
