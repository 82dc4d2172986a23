"""What a training run and a tuning search are made of: ``TrainConfig`` and ``TuneConfig``.

Each field that a user may set carries its own help, bounds and choices (``fer_core.options``):
the command line's flags (``python -m fer_core train --help``), the Train & Tune form's widgets
and the bounds checks are all generated from these fields, so a new training option is one edit
here. This module imports no Keras, so the command line can build its parser and refuse a bad
value in well under a second, before TensorFlow loads (about 5 s on the 2-core machine).

A config is saved as the run's ``config.json`` and read back by ``from_dict`` on resume.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from fer_core.data.ferplus import LABEL_SOURCES
from fer_core.errors import ConfigError
from fer_core.runtime.cards import TTA_MODES
from fer_core.labels import IMAGE_SIZE
from fer_core.options import check_options, option

LR_SCHEDULES = ("constant", "cosine", "onecycle", "plateau")
OPTIMIZERS = ("adam", "adamw", "sgd")
# Where a run trains: one device (the default), or every device of the machine, data parallel (JAX).
DEVICE_CHOICES = ("one", "all")
CLASS_WEIGHTS = ("none", "balanced", "sqrt")
TUNERS = ("random", "hyperband", "bayesian")
BATCH_SIZES = (16, 32, 64, 128, 256, 512)
FREEZE_CHOICES = ("none", "body")  # or a positive number of stages


def check_freeze(freeze: str) -> str:
    """``freeze`` if it is one of ``FREEZE_CHOICES`` or a positive number of stages."""
    if freeze in FREEZE_CHOICES or (str(freeze).isdigit() and int(freeze) > 0):
        return str(freeze)
    raise ConfigError(f"freeze must be none, body or a number of stages (1, 2, ...), got '{freeze}'")


@dataclass
class RunData:
    """Which data a run or a search trains and validates on (the fields both share)."""

    data: str
    data_fraction: float = option(1.0, "stratified share of the training split to use (small = quick)",
                                  label="Share of the training data", group="data", min=0, max=1,
                                  min_exclusive=True, step=0.01, slider=True)
    seed: int = option(1234, "random seed (weights, shuffling, augmentation, the data fraction)", label="Seed",
                       group="data", min=0)
    train_split: str = option("train", "split to train on", metavar="SPLIT")
    val_split: str = option("val", "split that picks the best epoch (and the best trial)", metavar="SPLIT")
    strict: bool = option(False, "stop at the first bad item in the dataset instead of skipping it")
    labels: str = option("fer2013", "training labels: FER2013's own, or FER+'s ten-annotator votes (majority: "
                                    "faces with one; soft: the vote shares as targets, usable with a teacher)",
                         label="Training labels", group="data", choices=LABEL_SOURCES)
    ferplus: str | None = option(None, "the FER+ votes file for --labels ferplus-* (e.g. ../shared/datasets/"
                                       "ferplus/ferplus-train-publictest.csv; the dashboard: the ferplus_file "
                                       "setting)", metavar="CSV")

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """The config a ``config.json`` records (keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainConfig(RunData):
    """Everything that defines a training run; saved as the run's ``config.json``."""

    model: str = option("reference", "architecture from the model registry", label="Architecture",
                        group="architecture")
    filters: list[int] | None = option(None, "stage widths, e.g. 32,64,128 (default: the architecture's)",
                                       label="Filters per stage", group="architecture")
    dense_units: int | None = option(None, "units of the dense layer (default: the architecture's)",
                                     label="Dense units", group="architecture", min=1, max=8192)
    dropout: float | None = option(None, "dropout before the output (default: the architecture's)",
                                   label="Dropout", group="architecture", min=0, max=0.95, step=0.05)
    model_args: dict[str, Any] = option(help="any other builder argument, e.g. convs_per_stage=3 (repeatable)",
                                        default_factory=dict, flag="--model-arg", metavar="KEY=VALUE")

    epochs: int = option(30, "epochs to train (with a time budget: the most it may train)", label="Epochs",
                         group="length", min=1, max=10000)
    time_budget: float = option(0.0, "minutes of wall clock: a few timed steps on this machine choose how many "
                                     "epochs fit, at most --epochs (0 = off; the quick preset sets 29)",
                                label="Time budget (minutes, 0 = off)", group="length", min=0, step=1.0,
                                metavar="MINUTES")
    validate_last: int = option(0, "validate only in the last N epochs (0 = every epoch); the best model is one "
                                   "of those", label="Validate in the last N epochs (0 = every)", group="length",
                                min=0)
    # Save the resume checkpoint at most every N minutes, and after the last epoch (0: every epoch):
    # on a GPU an epoch takes about a second, the save longer.
    checkpoint_minutes: float = option(0.0, "save the resume checkpoint at most every N minutes (0 = every epoch)",
                                       min=0)

    batch_size: int = option(64, "images per step", label="Batch size", group="recipe", offered=BATCH_SIZES)
    lr: float = option(1e-3, "peak learning rate", label="Learning rate", group="recipe", min=0,
                       min_exclusive=True, max=10, fmt="%.0e")
    lr_schedule: str = option("cosine", "onecycle: warm-up for 30% of the run, then cosine; plateau: halve the "
                                        "rate when val accuracy stalls for 3 epochs",
                              label="Learning-rate schedule", group="recipe", choices=LR_SCHEDULES)
    warmup_epochs: float = option(0.0, "linear warm-up from lr/25 (onecycle: 30% of the run if 0)",
                                  label="Warm-up epochs", group="recipe", min=0, step=0.5)
    optimizer: str = option("adam", "sgd uses Nesterov momentum", label="Optimizer", group="recipe",
                            choices=OPTIMIZERS)
    weight_decay: float = option(0.0, "decoupled for adamw (1e-4 if 0), L2-like for adam and sgd",
                                 label="Weight decay", group="recipe", min=0, max=1, fmt="%.0e")
    momentum: float = option(0.9, "momentum of sgd", label="Momentum (sgd)", group="recipe", min=0, max=0.999,
                             step=0.01)
    devices: str = option("one", "accelerators to train on: one, or all of this machine's (data parallel under "
                                 "KERAS_BACKEND=jax: each batch split across them, so --batch-size must divide "
                                 "by their count)", choices=DEVICE_CHOICES)
    mixed_precision: bool = option(False, "16-bit compute, float32 weights: bfloat16 on a GPU that has it "
                                          "(Ampere, Hopper), float16 on an older GPU, bfloat16 on a CPU with "
                                          "native bfloat16 instructions (AVX512_BF16, AMX); ignored elsewhere",
                                   label="Mixed precision", group="recipe")

    augment_strength: float = option(0.5, "flip, rotation, shift, zoom and contrast together, inside the model "
                                          "(0 = off)", label="Augmentation strength (0 = off)",
                                     group="augmentation", min=0, max=1, step=0.05, slider=True, flag="--augment")
    erasing: float = option(0.0, "random-erasing probability per image (a patch blanked)",
                            label="Random erasing (probability)", group="augmentation", min=0, max=1, step=0.05,
                            slider=True)
    photo_style: float = option(0.0, "probability of each photo-style degradation per face: uneven lighting, "
                                     "blur, JPEG blocking, sensor noise (what people's photos differ in)",
                                label="Photo-style degradations (probability)", group="augmentation", min=0, max=1,
                                step=0.05, slider=True, flag="--photo-style")
    crop_padding: int = option(0, "random shift by up to N pixels, edges repeated (a crop of the padded face)",
                               label="Random crop padding (pixels)", group="augmentation", min=0, max=12)
    # (crop_size / 48)^2 of the compute per image: 40 needs about 3/4 of an epoch's time.
    crop_size: int = option(0, "train on a random N x N window of each face, the centre one at inference "
                               "(0 = the whole face)", label="Training crop (pixels, 0 = whole face)",
                            group="augmentation", min=0, max=IMAGE_SIZE)
    flip: bool = option(False, "random horizontal flip (also on whenever augmentation strength > 0)",
                        label="Random horizontal flip", group="augmentation")
    mixup: float = option(0.0, "mixup Beta alpha (0 = off)", label="Mixup alpha (0 = off)", group="augmentation",
                          min=0, max=2, step=0.1, slider=True)
    cutmix: float = option(0.0, "cutmix Beta alpha (0 = off; with mixup too, half the batches each)",
                           label="CutMix alpha (0 = off)", group="augmentation", min=0, max=2, step=0.1,
                           slider=True)
    label_smoothing: float = option(0.0, "share of each label spread over the other classes",
                                    label="Label smoothing", group="augmentation", min=0, max=0.5, step=0.05,
                                    slider=True)
    class_weight: str = option("none", "balanced or sqrt (gentler) lift rare classes such as disgust",
                               label="Class weights", group="augmentation", choices=CLASS_WEIGHTS)

    # Knowledge distillation: the targets are teacher_weight x the teachers' mean probabilities
    # (with teacher_tta) on each training face + the rest x its one-hot label.
    teacher: list[str] = option(help="knowledge distillation: train on a mix of the labels and this model's "
                                     "probabilities (a bundled name such as default, a run folder or a .keras "
                                     "file; repeat for the mean of several)", default_factory=list,
                                metavar="MODEL")
    teacher_weight: float = option(0.7, "share of the teachers' probabilities in the targets", min=0, max=1)
    teacher_tta: str = option("flip", "test-time augmentation of the teachers' soft labels (multicrop: 10 views, "
                                      "the ten-crop of the larger teacher recipes)", choices=TTA_MODES)

    # Fine-tuning (fer_core.training.finetune): the architecture fields are then the parent's.
    init_from: str | None = option(None, "fine-tune: start from this model's weights (default, a bundled name, a "
                                         "run folder or a .keras file, loaded in safe mode)", metavar="MODEL")
    freeze: str = option("none", "with --init-from: none, body (all but the head) or N (the first N stages)",
                         label="Freeze", group="finetune", offered=("body", "none", "1", "2", "3"))
    unfreeze_after: int = option(0, "train the frozen layers too after epoch K, at the learning rate x "
                                    "--unfreeze-lr-factor (0 = never)", label="Unfreeze after epoch (0 = never)",
                                 group="finetune", min=0, metavar="K")
    unfreeze_lr_factor: float = option(0.1, "the learning rate's factor once everything trains", min=0,
                                       min_exclusive=True, max=1)
    detect_faces: bool = option(False, "the dataset holds whole photos: crop each one's largest face as Predict "
                                       "does", label="Crop faces with the detector", group="finetune")

    def __post_init__(self) -> None:
        if isinstance(self.teacher, str):
            self.teacher = [self.teacher]
        if self.filters is not None:
            self.filters = [int(f) for f in self.filters]
            if not self.filters:
                raise ConfigError("filters must list at least one width")
        check_options(self)
        self.freeze = check_freeze(str(self.freeze))
        if self.freeze != "none" and not self.init_from:
            raise ConfigError("freezing needs a model to start from (init_from)")
        if self.unfreeze_after and self.freeze == "none":
            raise ConfigError("unfreeze-after needs something frozen (freeze body or a number of stages)")
        if self.validate_last and self.lr_schedule == "plateau":
            raise ConfigError("the plateau schedule watches val accuracy every epoch: leave validate-last at 0")

    def model_kwargs(self) -> dict[str, Any]:
        """The registry builder's keyword arguments: sizes given, augmentation, the seed, model_args."""
        sizes = {"filters": self.filters, "dense_units": self.dense_units, "dropout": self.dropout}
        return {
            **{k: v for k, v in sizes.items() if v is not None},
            "augment_strength": self.augment_strength,
            **({"erasing": self.erasing} if self.erasing else {}),
            **({"photo_style": self.photo_style} if self.photo_style else {}),
            **({"crop_size": self.crop_size} if self.crop_size else {}),
            **({"crop_padding": self.crop_padding} if self.crop_padding else {}),
            **({"flip": True} if self.flip else {}),
            "seed": self.seed,
            **self.model_args,
        }


@dataclass
class TuneConfig(RunData):
    """A search: which tuner, how long, and the ranges it may pick from."""

    tuner: str = option("random", "Keras-Tuner's search algorithm", label="Tuner", group="search", choices=TUNERS)
    max_trials: int = option(10, "trials for random and bayesian search", label="Max trials (random, bayesian)",
                             group="search", min=1, max=1000)
    epochs: int = option(10, "epochs per trial (the most per trial for hyperband)",
                         label="Epochs per trial (max for hyperband)", group="search", min=1, max=1000)
    model: str = option("reference", "architecture from the model registry", label="Architecture",
                        group="architecture")
    lr_min: float = option(1e-4, "smallest learning rate tried (log scale)", label="Smallest learning rate",
                           group="ranges", min=0, min_exclusive=True, fmt="%.0e")
    lr_max: float = option(1e-2, "largest learning rate tried", label="Largest learning rate", group="ranges",
                           min=0, min_exclusive=True, fmt="%.0e")
    batch_sizes: list[int] = option(help="batch sizes tried", default_factory=lambda: [32, 64, 128],
                                    label="Batch sizes", group="ranges", offered=BATCH_SIZES)
    base_filters: list[int] = option(help="first-stage widths tried (then x2, x4)",
                                     default_factory=lambda: [16, 32, 48, 64], label="Base filters", group="ranges",
                                     offered=(8, 16, 24, 32, 48, 64, 96, 128))
    dense_units: list[int] = option(help="dense-layer sizes tried", default_factory=lambda: [128, 256, 512],
                                    label="Dense units", group="ranges", offered=(64, 128, 256, 512, 1024))
    dropout_min: float = option(0.2, "smallest dropout tried", label="Smallest dropout", group="ranges", min=0,
                                max=0.9, step=0.1)
    dropout_max: float = option(0.6, "largest dropout tried", label="Largest dropout", group="ranges", min=0,
                                max=0.9, step=0.1)
    augment_min: float = option(0.0, "weakest augmentation tried", label="Weakest augmentation", group="ranges",
                                min=0, max=1, step=0.25)
    augment_max: float = option(1.0, "strongest augmentation tried", label="Strongest augmentation",
                                group="ranges", min=0, max=1, step=0.25)
    # Distributed search (fer_core.training.distributed): 0 = trials one after another in this
    # process; N = this process serves the oracle and starts N local worker processes (workers on
    # other machines can join: tune-worker).
    workers: int = option(0, "run trials in N worker processes at once (Keras-Tuner's distributed mode: this "
                             "process serves the oracle; workers on other machines can join with tune-worker)",
                          label="Parallel workers (0 = trials one after another)", group="search", min=0, max=64)
    oracle_host: str = option("127.0.0.1", "address the oracle listens on (0.0.0.0 to let other machines join)")
    oracle_port: int = option(0, "port for the oracle (0 = any free port)", min=0, max=65535)

    def __post_init__(self) -> None:
        check_options(self)
        if not self.batch_sizes or not self.base_filters or not self.dense_units:
            raise ConfigError("pick at least one batch size, base filter count and dense size")
        if self.lr_min > self.lr_max or self.dropout_min > self.dropout_max or self.augment_min > self.augment_max:
            raise ConfigError("each range's smallest value must not be above its largest")

    def trial_config(self, hp: Any) -> TrainConfig:
        """The training config one trial runs with, drawn from the search space (``hp``: Keras-Tuner's
        ``HyperParameters``)."""
        base = hp.Choice("base_filters", self.base_filters)
        return TrainConfig(
            data=self.data,
            model=self.model,
            epochs=self.epochs,
            lr=hp.Float("lr", self.lr_min, self.lr_max, sampling="log"),
            lr_schedule="constant",
            filters=[base, base * 2, base * 4],
            dense_units=hp.Choice("dense_units", self.dense_units),
            dropout=hp.Float("dropout", self.dropout_min, self.dropout_max, step=0.1),
            augment_strength=hp.Float("augment_strength", self.augment_min, self.augment_max, step=0.25),
            seed=self.seed,
        )

    def data_config(self) -> TrainConfig:
        """A training config that loads this search's data exactly as a run would."""
        return TrainConfig(data=self.data, data_fraction=self.data_fraction, seed=self.seed,
                           train_split=self.train_split, val_split=self.val_split, strict=self.strict,
                           labels=self.labels, ferplus=self.ferplus)


@dataclass(frozen=True)
class AdaptOptions:
    """How ``adapt`` fits a model's head to a user's faces (``fer_core.training.adapt``; the defaults
    chosen by ``benchmarks/bench_adapt.py``, docs/results.md)."""

    folds: int = 5  # k of the cross-validation (fewer when a class has fewer faces, or time is short)
    replay_faces: int = 2000  # FER2013 Training faces mixed in (0: none)
    user_share: float = 0.5  # the user's faces' share of the loss
    renormalize: bool = False  # batch-norm statistics re-estimated on the user's faces first (AdaBN)
    epochs: int = 20
    learning_rate: float = 3e-4
    batch_size: int = 64
    time_budget_minutes: float = 2.0
    seed: int = 0
