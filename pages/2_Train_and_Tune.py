"""Train & Tune page: launch a training run or a Keras-Tuner search in the background, watch it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer_core.charts import learning_curves
from fer_core.app.datasets import dataset_picker
from fer_core.app.runs import finished_runs, registry, run_label, run_rows
from fer_core.app.session import settings, start_page
from fer_core.app.widgets import estimate_words
from fer_core.app.forms import option_form
from fer_core.errors import ConfigError, FerError
from fer_core.runtime.loading import bundled_models
from fer_core.models import list_models
from fer_core.options import defaults
from fer_core.training.config import TrainConfig, TuneConfig
from fer_core.runs.hardware import default_preset, device_description
from fer_core.runs.history import read_history
from fer_core.training.jobs import cancel, describe_progress, describe_workers, log_tail, requeue, submit
from fer_core.training.presets import FINETUNE_START, PRESETS, recipe_values, with_preset
from fer_core.runs.progress import read_progress

start_page("Train & Tune")
config = settings()

# ---------------------------------------------------------------- which data
data_path = dataset_picker(st, config, key="train_dataset")
if data_path is None:
    st.warning(f"No dataset yet: choose or upload one on the Dataset page (data folder `{config.data_root}`).")
    st.stop()

# ---------------------------------------------------------------- the form
# Every field below comes from TrainConfig / TuneConfig (fer_core.training.config): label, help,
# bounds and choices; a field added there with a label and a group appears here.
RECIPES = ["custom", *PRESETS, "model"]
mode = st.radio("What to run", ["Train once", "Tune with Keras-Tuner"], horizontal=True)
recipe = "custom"
if mode == "Train once":
    recipe = st.radio("Start from", RECIPES, horizontal=True, index=RECIPES.index(default_preset()),
                      format_func=lambda r: {"custom": "my own settings", "model": "a trained model (fine-tune)"}.get(
                          r, f"the '{r}' preset"),
                      help="quick: the best model 29 minutes of a 2-core CPU train; gpu: a few minutes of one "
                           "GPU (both time budgets); measured in docs/results.md and docs/gpu.md. A trained "
                           "model: its weights are the start, on this dataset (your own faces, say)")
st.caption(f"Jobs run on {device_description()}.")
# The form starts from the config's defaults, or the preset's values; widget keys carry the
# recipe so switching it refills the form.
start = {**recipe_values(None), **FINETUNE_START} if recipe == "model" else recipe_values(
    None if recipe == "custom" else recipe)
parents = {"default": "the default model", **{name: f"the bundled '{name}' model" for name in bundled_models()},
           **{r.run_dir: f"run {run_label(r)}" for r in finished_runs(config.runs_dir)}}
with st.form("launch"):
    values: dict = {}
    unreadable: list[str] = []  # values the form could not read, shown on Launch
    if mode == "Train once":
        left, _ = st.columns(2)
        if recipe == "model":
            values["init_from"] = left.selectbox("Model to start from", list(parents), format_func=parents.get,
                                                 help="its architecture and weights; loaded in safe mode")
        else:
            models = list_models()
            values["model"] = left.selectbox("Architecture", models, index=models.index(start["model"]),
                                             key=f"{recipe}-model")
        groups = ["data", "length", "recipe", "augmentation"] + (["finetune"] if recipe == "model" else
                                                                 ["architecture"])
        for group in groups:
            values.update(option_form(TrainConfig, [group], start, recipe, columns=4, skip=("model",),
                                      errors=unreadable))
        preset_args = start.get("model_args") if recipe not in ("custom", "model") else None
        if preset_args:
            st.caption(f"The preset also sets, for `{start['model']}`: "
                       + ", ".join(f"`{k}={v}`" for k, v in preset_args.items())
                       + (f"; a resume checkpoint at most every {start['checkpoint_minutes']:g} min"
                          if start["checkpoint_minutes"] else ""))
    else:
        tune_start = defaults(TuneConfig)
        values["model"] = st.columns(2)[0].selectbox("Architecture", list_models(), key="tune-model",
                                                     index=list_models().index(tune_start["model"]))
        for group in ("search", "ranges", "data"):
            values.update(option_form(TuneConfig, [group], tune_start, "tune", columns=4, skip=("model",),
                                      errors=unreadable))
    launch_column, estimate_column = st.columns([1, 3])
    launched = launch_column.form_submit_button("Launch", type="primary")
    estimated = mode == "Train once" and estimate_column.form_submit_button(
        "Estimate the time", help="times 32 training steps of this recipe's model here (10-30 s), then says how "
                                  "long its epochs take on this machine, or how many fit its time budget")


def form_job() -> TrainConfig | TuneConfig:
    if unreadable:
        raise ConfigError("; ".join(unreadable))
    if values.get("labels", "fer2013") != "fer2013" and config.ferplus_votes_file():
        values["ferplus"] = str(config.ferplus_votes_file())  # the setting, or the one beside the datasets
    if mode == "Train once":
        preset = None if recipe in ("custom", "model") else recipe
        given = {**FINETUNE_START, **values} if recipe == "model" else values
        return TrainConfig(**{**with_preset(preset, given), "data": str(data_path)})
    return TuneConfig(**values, data=str(data_path))


if estimated:
    try:
        st.info(estimate_words(form_job()))
    except (FerError, OSError) as exc:
        st.error(f"Cannot estimate: {exc}")

if launched:
    try:
        job = form_job()
        run_id = submit(config.runs_dir, job, max_running=config.max_jobs)
        st.success(f"Queued `{run_id}`. It runs in the background: reloading the page or restarting the server "
                   "does not stop it.")
    except (FerError, OSError) as exc:
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
    st.dataframe(pd.DataFrame(run_rows(records, errors=True)), hide_index=True, key="jobs_table")
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
