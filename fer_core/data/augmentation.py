"""Training-time augmentation as one Keras layer of batched tensor ops: fast on every backend.

Why not Keras's own ``RandomFlip/Rotation/Translation/Zoom/Contrast`` layers: under JAX on a GPU
they made a training step about 370 times slower than the network itself (1,019 ms against
2.7 ms for the ``vgg`` model, batch 128), and on a CPU they each resample the image separately.
``FaceAugment`` draws every image's flip, rotation, scale and shift, composes them into one
affine map and resamples the batch once (bilinear, edges repeated) with index arithmetic and a
gather, all inside the compiled training step; contrast and random erasing are elementwise.

``photo`` adds what people's photos differ in from FER2013's faces (issue 35), each applied to a
face with probability ``photo``: uneven lighting (a gamma change and a light gradient across the
face), blur (a blend towards a Gaussian blur of sigma 1.2 px: 0-1.2 px at 48x48, a face of 150 px
seen through a soft lens), JPEG blocking (an 8x8 DCT of the face quantised with the standard
luminance table at quality 15-75, the codec's own arithmetic on grey faces) and sensor noise.
A pure shift (no rotation or scale) is whole pixels and takes a single gather, like a random
crop of the edge-padded face. ``benchmarks/bench_train_speed.py`` prints the cost of each
transform and of the full set, per backend.

The layer is active only in training (``training=True``); at inference it returns its input, so
it can live inside saved models. It is registered, so such models load in Keras safe mode.
Mixup and cutmix mix labels too, so they stay outside the model (``fer_core.data.batches``).
"""

from __future__ import annotations

import math

import keras
from fer_core.errors import ConfigError
from keras import ops

# What augmentation strength 1.0 means (the ranges scale linearly with strength): the same
# ranges as the Keras layers this replaces, so earlier configs keep their meaning.
ROTATION_DEGREES_AT_FULL = 18.0  # RandomRotation(0.05) = 0.05 of a full turn
SHIFT_FRACTION_AT_FULL = 0.1  # RandomTranslation(0.1): up to a tenth of the side each way
ZOOM_AT_FULL = 0.1  # RandomZoom(0.1): scale within +-10%
CONTRAST_AT_FULL = 0.3  # RandomContrast(0.3)
# Random erasing (Zhong et al., 2017): a box of 2-20% of the face, aspect 0.3-3.3, filled with noise.
ERASE_AREA = (0.02, 0.2)
ERASE_LOG_ASPECT = (math.log(0.3), math.log(1 / 0.3))
# Photo-style degradations: the ranges each one draws from when it is applied.
GAMMA_LOG_RANGE = 0.5  # gamma in exp(+-0.5) = 0.61-1.65: underexposed to washed-out
LIGHT_GRADIENT = 0.35  # brightness from 1-0.35 to 1+0.35 across the face: side lighting
BLUR_SIGMA = 1.2  # pixels at 48x48
JPEG_QUALITY = (15.0, 75.0)
NOISE_SIGMA = 8.0  # grey levels
# JPEG's luminance quantisation table (ITU-T T.81, Annex K), scaled by quality as libjpeg does.
JPEG_LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55), (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62), (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99),
)


@keras.saving.register_keras_serializable(package="fer_core")
class FaceAugment(keras.layers.Layer):
    """Random flip, rotation, scale, shift, contrast and erasing of a batch of faces (pixels 0-255).

    ``rotation`` is in degrees (each way), ``zoom`` the relative scale change (each way),
    ``shift`` in pixels (each way), ``contrast`` the relative change of contrast about each
    face's mean, ``erasing`` the probability that a face gets a box of noise, ``photo`` the
    probability of each photo-style degradation (lighting, blur, JPEG, noise).
    """

    def __init__(self, flip: bool = False, rotation: float = 0.0, zoom: float = 0.0, shift: float = 0.0,
                 contrast: float = 0.0, erasing: float = 0.0, photo: float = 0.0, seed: int | None = None,
                 **kwargs):
        kwargs.setdefault("dtype", "float32")  # pixel arithmetic stays float32 under mixed precision
        super().__init__(**kwargs)
        if min(rotation, zoom, shift, contrast, erasing, photo) < 0 or max(erasing, photo) > 1 or zoom >= 1:
            raise ConfigError("augmentation ranges must not be negative; erasing and photo are probabilities; "
                              "zoom below 1")
        self.flip, self.rotation, self.zoom = bool(flip), float(rotation), float(zoom)
        self.shift, self.contrast, self.erasing, self.seed = float(shift), float(contrast), float(erasing), seed
        self.photo = float(photo)
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def is_active(self) -> bool:
        return bool(self.flip or self.rotation or self.zoom or self.shift or self.contrast or self.erasing
                    or self.photo)

    def call(self, images, training=None):
        if not training or not self.is_active:
            return images
        images = ops.cast(images, "float32")
        if self.rotation or self.zoom:
            images = self._affine(images)
        elif self.flip or self.shift:
            images = self._flip_and_shift(images)
        if self.contrast:
            images = self._contrast(images)
        if self.photo:
            images = self._photo_style(images)
        if self.erasing:
            images = self._erase(images)
        return images

    # -- geometry ------------------------------------------------------------------------------

    def _uniform(self, batch, low, high):
        return keras.random.uniform((batch, 1, 1), low, high, seed=self.seed_generator)

    def _mirror(self, batch):
        """+1 or -1 per image: -1 mirrors it."""
        if not self.flip:
            return ops.ones((batch, 1, 1))
        return ops.where(self._uniform(batch, 0.0, 1.0) < 0.5, -1.0, 1.0)

    def _flip_and_shift(self, images):
        """Whole-pixel shifts (edges repeated) and mirroring: one gather, no interpolation."""
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        reach = int(self.shift)
        cols = ops.arange(width, dtype="float32")[None, None, :]
        rows = ops.arange(height, dtype="float32")[None, :, None]
        mirror = self._mirror(batch)
        centre = (width - 1) / 2.0
        src_cols = mirror * (cols - centre) + centre
        src_rows = rows + ops.zeros((batch, 1, 1))
        if reach:
            src_cols = src_cols - ops.floor(self._uniform(batch, -reach, reach + 1))
            src_rows = src_rows - ops.floor(self._uniform(batch, -reach, reach + 1))
        return _gather(images, ops.cast(src_rows, "int32"), ops.cast(src_cols, "int32"))

    def _affine(self, images):
        """Mirror, rotate, scale and shift each face about its centre in one bilinear resampling."""
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        angle = self._uniform(batch, -self.rotation, self.rotation) * (math.pi / 180.0)
        scale = 1.0 + self._uniform(batch, -self.zoom, self.zoom)
        dx = self._uniform(batch, -self.shift, self.shift)
        dy = self._uniform(batch, -self.shift, self.shift)
        mirror = self._mirror(batch)
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
        # Output pixel (u, v) about the centre comes from the source point found by undoing, in
        # reverse order, the shift, the scale, the rotation and the mirroring.
        u = ops.arange(width, dtype="float32")[None, None, :] - cx - dx
        v = ops.arange(height, dtype="float32")[None, :, None] - cy - dy
        cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
        src_x = mirror * (cos * u + sin * v) + cx
        src_y = -sin * u + cos * v + cy
        x0, y0 = ops.floor(src_x), ops.floor(src_y)
        wx, wy = (src_x - x0)[..., None], (src_y - y0)[..., None]
        x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        top = _gather(images, y0, x0) * (1 - wx) + _gather(images, y0, x0 + 1) * wx
        bottom = _gather(images, y0 + 1, x0) * (1 - wx) + _gather(images, y0 + 1, x0 + 1) * wx
        return top * (1 - wy) + bottom * wy

    # -- photometric ---------------------------------------------------------------------------

    def _contrast(self, images):
        batch = ops.shape(images)[0]
        factor = self._uniform(batch, 1.0 - self.contrast, 1.0 + self.contrast)[..., None]
        mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
        return ops.clip((images - mean) * factor + mean, 0.0, 255.0)

    def _erase(self, images):
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        area = self._uniform(batch, *ERASE_AREA) * (height * width)
        aspect = ops.exp(self._uniform(batch, *ERASE_LOG_ASPECT))
        box_h = ops.minimum(ops.sqrt(area * aspect), float(height))
        box_w = ops.minimum(ops.sqrt(area / aspect), float(width))
        top = self._uniform(batch, 0.0, 1.0) * (height - box_h)
        left = self._uniform(batch, 0.0, 1.0) * (width - box_w)
        rows = ops.arange(height, dtype="float32")[None, :, None]
        cols = ops.arange(width, dtype="float32")[None, None, :]
        inside = (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
        chosen = self._uniform(batch, 0.0, 1.0) < self.erasing
        mask = ops.expand_dims(inside & chosen, -1)
        noise = keras.random.uniform(ops.shape(images), 0.0, 255.0, seed=self.seed_generator)
        return ops.where(mask, noise, images)

    # -- photo style ---------------------------------------------------------------------------

    def _chosen(self, batch):
        """1.0 for the faces a degradation applies to (probability ``photo``), else 0.0."""
        return ops.cast(self._uniform(batch, 0.0, 1.0) < self.photo, "float32")[..., None]

    def _photo_style(self, images):
        batch = ops.shape(images)[0]
        images = self._lighting(images, batch)
        blurred = ops.conv(images, _gaussian_kernel(BLUR_SIGMA), padding="same")
        blend = self._chosen(batch) * self._uniform(batch, 0.0, 1.0)[..., None]
        images = images + blend * (blurred - images)
        if images.shape[1] % 8 == 0 and images.shape[2] % 8 == 0:
            images = images + self._chosen(batch) * (self._jpeg(images, batch) - images)
        sigma = self._chosen(batch) * self._uniform(batch, 0.0, NOISE_SIGMA)[..., None]
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return ops.clip(images + sigma * noise, 0.0, 255.0)

    def _lighting(self, images, batch):
        height, width = images.shape[1], images.shape[2]
        chosen = self._chosen(batch)
        gamma = ops.exp(chosen * self._uniform(batch, -GAMMA_LOG_RANGE, GAMMA_LOG_RANGE)[..., None])
        images = 255.0 * ops.power(ops.clip(images, 0.0, 255.0) / 255.0, gamma)
        angle = self._uniform(batch, 0.0, 2 * math.pi)
        strength = chosen[..., 0] * self._uniform(batch, 0.0, LIGHT_GRADIENT)
        cols = ops.linspace(-1.0, 1.0, width)[None, None, :]
        rows = ops.linspace(-1.0, 1.0, height)[None, :, None]
        gain = 1.0 + strength * (ops.cos(angle) * cols + ops.sin(angle) * rows)
        return ops.clip(images * gain[..., None], 0.0, 255.0)

    def _jpeg(self, images, batch):
        """Each face through JPEG's 8x8 DCT, quantisation at a random quality, and back."""
        height, width = images.shape[1], images.shape[2]
        dct = ops.convert_to_tensor(_dct_matrix(), "float32")
        blocks = ops.reshape(images[..., 0] - 128.0, (batch, height // 8, 8, width // 8, 8))
        blocks = ops.transpose(blocks, (0, 1, 3, 2, 4))  # batch, block row, block col, 8, 8
        coefficients = ops.einsum("ij,brcjk,lk->brcil", dct, blocks, dct)
        quality = self._uniform(batch, *JPEG_QUALITY)
        scale = ops.where(quality < 50, 5000.0 / quality, 200.0 - 2.0 * quality) / 100.0
        table = ops.maximum(ops.convert_to_tensor(JPEG_LUMA_TABLE, "float32")[None] * scale, 1.0)
        table = ops.reshape(table, (batch, 1, 1, 8, 8))
        coefficients = ops.round(coefficients / table) * table
        blocks = ops.einsum("ji,brcjk,kl->brcil", dct, coefficients, dct)
        blocks = ops.transpose(blocks, (0, 1, 3, 2, 4))
        return ops.clip(ops.reshape(blocks, (batch, height, width, 1)) + 128.0, 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "flip": self.flip, "rotation": self.rotation, "zoom": self.zoom,
                "shift": self.shift, "contrast": self.contrast, "erasing": self.erasing, "photo": self.photo, "seed": self.seed}


def _gather(images, rows, cols):
    """``images[b, rows[b, i, j], cols[b, i, j], :]`` for every b, i, j, indices clamped to the edge."""
    batch, height, width, channels = ops.shape(images)[0], images.shape[1], images.shape[2], images.shape[3]
    rows = ops.clip(rows, 0, height - 1)
    cols = ops.clip(cols, 0, width - 1)
    first = ops.reshape(ops.arange(batch, dtype="int32") * (height * width), (-1, 1, 1))
    flat_index = ops.reshape(first + rows * width + cols, (-1,))
    pixels = ops.take(ops.reshape(images, (-1, channels)), flat_index, axis=0)
    return ops.reshape(pixels, (batch, height, width, channels))


def _gaussian_kernel(sigma: float):
    """A 5x5 Gaussian blur kernel, shaped (5, 5, 1, 1) for ``ops.conv`` on grey faces."""
    taps = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-2, 3)]
    total = sum(taps)
    row = [t / total for t in taps]
    kernel = [[[[a * b]] for b in row] for a in row]
    return ops.convert_to_tensor(kernel, "float32")


def _dct_matrix():
    """The orthonormal 8-point DCT-II matrix: coefficients = D @ block @ D.T."""
    return [[(math.sqrt(1 / 8) if k == 0 else math.sqrt(2 / 8)) * math.cos((2 * n + 1) * k * math.pi / 16)
             for n in range(8)] for k in range(8)]


def build_augmentation(strength: float, erasing: float = 0.0, seed: int | None = None, shift_pixels: int = 0,
                       flip: bool = False, image_size: int = 48, photo: float = 0.0) -> FaceAugment | None:
    """The training augmentation of a recipe, ``None`` when it does nothing.

    ``strength`` in [0, 1] scales flip, rotation, shift, zoom and contrast together (one number
    for a tuner to search); ``erasing`` is the random-erasing probability; ``shift_pixels`` and
    ``flip`` add a whole-pixel random shift (a random crop of the edge-padded face) and mirroring
    on their own; ``photo`` is the probability of each photo-style degradation."""
    if not 0.0 <= strength <= 1.0:
        raise ConfigError(f"augmentation strength must be in [0, 1], got {strength}")
    if not 0.0 <= erasing <= 1.0:
        raise ConfigError(f"erasing probability must be in [0, 1], got {erasing}")
    if not 0.0 <= photo <= 1.0:
        raise ConfigError(f"photo-style probability must be in [0, 1], got {photo}")
    if shift_pixels < 0:
        raise ConfigError(f"crop padding must not be negative, got {shift_pixels}")
    shift = SHIFT_FRACTION_AT_FULL * strength * image_size + shift_pixels
    layer = FaceAugment(flip=flip or strength > 0, rotation=ROTATION_DEGREES_AT_FULL * strength,
                        zoom=ZOOM_AT_FULL * strength, shift=shift, contrast=CONTRAST_AT_FULL * strength,
                        erasing=erasing, photo=photo, seed=seed, name="augmentation")
    return layer if layer.is_active else None
