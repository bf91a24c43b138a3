"""Known answers for every transform of minicell.dataset, computed by hand from random_words."""
import math

import numpy as np
import pytest

import minicell as mc
from minicell.dataset import counters, transforms, vision
from minicell.random import normal, random_words

SEED, OFFSET = (1 << 40) + 12345, (1 << 33) + 7


def start_of(slot, index, count):
    """Where sample ``index`` of slot ``slot`` starts, from the documented formula."""
    return 4 * ((slot + 1) * 2 ** 56 + index * -(-count // 4))


def words_of(slot, index, count, seed=SEED, offset=OFFSET):
    return [int(w) for w in random_words(seed, offset, count, start=start_of(slot, index, count))]


def draw(slot, ids):
    return counters.Draw(SEED, OFFSET, slot, np.array(ids, np.int64))


@pytest.mark.parametrize("slot, ids, count", [(0, [0, 1, 2], 1), (3, [17, 2, 99999], 2),
                                              (254, [5, 5], 41), (1, [7], 8), (2, [3, 0], 6)])
def test_draw_reads_each_samples_own_words(slot, ids, count):
    words = draw(slot, ids).words(count)
    assert words.shape == (len(ids), count) and words.dtype == np.uint32
    for row, i in zip(words, ids):
        assert [int(w) for w in row] == words_of(slot, i, count)


def test_draw_known_block_counter():
    # block (slot + 1) * 2**56 + i: counter (lo, hi, offset lo, offset hi), key (seed lo, seed hi)
    block = 1 * 2 ** 56 + 5
    counter = np.array([[block & 0xFFFFFFFF, block >> 32, OFFSET & 0xFFFFFFFF, OFFSET >> 32]], np.uint32)
    key = np.array([SEED & 0xFFFFFFFF, SEED >> 32], np.uint32)
    expected = mc.random.philox4x32(counter, key)[0]
    assert np.array_equal(draw(0, [5]).words(4)[0], expected)


def test_word_conversions_by_hand():
    w = np.array([0, 1, 0x80000000, 0xFFFFFFFF], np.uint32)
    assert counters.unit(w).tolist() == [0.0, 2.0 ** -32, 0.5, (2 ** 32 - 1) / 2 ** 32]
    assert counters.below(w, 9).tolist() == [(int(x) * 9) >> 32 for x in w] == [0, 0, 4, 8]
    assert counters.chance(w, 0.5).tolist() == [True, True, False, False]
    assert not counters.chance(w, 0.0).any() and counters.chance(w, 1.0).all()


def test_random_crop_known_answer():
    images = np.arange(4 * 5 * 6 * 3, dtype=np.uint8).reshape(4, 5, 6, 3)
    ids = [11, 0, 3, 11]
    out = vision.RandomCrop((4, 3), padding=(1, 2, 3, 0), fill_value=9).apply(images.copy(), draw(2, ids))
    assert out.shape == (4, 4, 3, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    for image, got, i in zip(images, out, ids):
        padded = np.pad(image, ((2, 0), (1, 3), (0, 0)), constant_values=9)  # top 2, left 1, right 3
        w0, w1 = words_of(2, i, 2)
        top, left = (w0 * (7 - 4 + 1)) >> 32, (w1 * (10 - 3 + 1)) >> 32
        assert np.array_equal(got, padded[top:top + 4, left:left + 3])
    assert np.array_equal(out[0], out[3])  # same sample, same crop


def test_random_crop_pad_if_needed_pads_both_sides_by_the_shortfall():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) + 1
    out = vision.RandomCrop((5, 4), padding=(0, 1, 0, 0), pad_if_needed=True).apply(images.copy(), draw(3, [8, 9]))
    for image, got, i in zip(images, out, [8, 9]):
        # padded top by 1 -> 4 rows, still short of 5 by 1: one more row above and below (torchvision)
        padded = np.pad(image, ((2, 1), (0, 0)))
        w0, w1 = words_of(3, i, 2)
        top, left = (w0 * (6 - 5 + 1)) >> 32, (w1 * 1) >> 32
        assert left == 0 and np.array_equal(got, padded[top:top + 5, 0:4])


def test_random_crop_hw_images_and_no_padding():
    images = np.arange(3 * 6 * 6, dtype=np.float32).reshape(3, 6, 6)
    out = vision.RandomCrop(4).apply(images.copy(), draw(0, [0, 1, 2]))
    for image, got, i in zip(images, out, [0, 1, 2]):
        w0, w1 = words_of(0, i, 2)
        top, left = (w0 * 3) >> 32, (w1 * 3) >> 32
        assert np.array_equal(got, image[top:top + 4, left:left + 4])


@pytest.mark.parametrize("cls, axis", [(vision.RandomHorizontalFlip, 1), (vision.RandomVerticalFlip, 0)])
@pytest.mark.parametrize("shape", [(6, 4, 5, 3), (6, 4, 5)])
def test_flips_known_answer(cls, axis, shape):
    images = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    ids = list(range(20, 26))
    out = cls(prob=0.45).apply(images.copy(), draw(1, ids))
    flipped = 0
    for image, got, i in zip(images, out, ids):
        flip = words_of(1, i, 1)[0] < round(0.45 * 2 ** 32)
        flipped += flip
        assert np.array_equal(got, np.flip(image, axis=axis) if flip else image)
    assert 0 < flipped < len(ids)  # both branches are exercised by these ids


def test_flip_probability_edges():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert np.array_equal(vision.RandomHorizontalFlip(0.0).apply(images.copy(), draw(0, [0, 1])), images)
    assert np.array_equal(vision.RandomHorizontalFlip(1.0).apply(images.copy(), draw(0, [0, 1])), images[:, :, ::-1])


def test_normalize_and_hwc2chw_by_hand():
    image = np.array([[[0, 128, 255], [10, 20, 30]]], np.uint8)  # 1 x 2 x 3 (HWC)
    out = vision.Normalize([1.0, 2.0, 3.0], [2.0, 4.0, 8.0]).apply(image[None].copy(), draw(0, [0]))[0]
    assert out.dtype == np.float32
    assert out.tolist() == [[[-0.5, 31.5, 31.5], [4.5, 4.5, 3.375]]]
    chw = vision.HWC2CHW().apply(out[None], draw(0, [0]))[0]
    assert chw.shape == (3, 1, 2) and chw[:, 0, 1].tolist() == [4.5, 4.5, 3.375] and chw.flags.c_contiguous
    chw_norm = vision.Normalize([1.0, 2.0, 3.0], [2.0, 4.0, 8.0], is_hwc=False).apply(
        np.ascontiguousarray(image.transpose(2, 0, 1))[None].astype(np.float32), draw(0, [0]))[0]
    assert np.array_equal(chw_norm, chw)
    hw = np.ones((1, 2, 2))
    assert vision.HWC2CHW().apply(hw, draw(0, [0])) is hw


def erase_by_hand(image, words, prob, scale, ratio, value, attempts=10):
    """torchvision's RandomErasing.get_params with our words (Python floats, Python round)."""
    c, h, w = image.shape
    if not words[0] < round(prob * 2 ** 32):
        return image
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for a in range(attempts):
        u_s, u_r, w_i, w_j = words[1 + 4 * a: 5 + 4 * a]
        area = h * w * (scale[0] + (scale[1] - scale[0]) * (u_s / 2 ** 32))
        aspect = math.exp(log_r[0] + (log_r[1] - log_r[0]) * (u_r / 2 ** 32))
        eh, ew = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if not (eh < h and ew < w):
            continue
        i, j = (w_i * (h - eh + 1)) >> 32, (w_j * (w - ew + 1)) >> 32
        out = image.copy()
        out[:, i:i + eh, j:j + ew] = np.asarray(value, image.dtype).reshape(-1, 1, 1)
        return out
    return image


@pytest.mark.parametrize("scale, ratio, value", [((0.02, 0.33), (0.3, 3.3), 0),
                                                 ((0.1, 0.9), (0.5, 2.0), (1.5, -2.0, 7.0)),
                                                 ((0.5, 0.6), (1.0, 1.0), 3)])
def test_random_erasing_known_answer(scale, ratio, value):
    images = np.arange(12 * 3 * 7 * 9, dtype=np.float32).reshape(12, 3, 7, 9)
    ids = list(range(100, 112))
    out = vision.RandomErasing(0.7, scale, ratio, value).apply(images.copy(), draw(4, ids))
    erased = 0
    for image, got, i in zip(images, out, ids):
        expected = erase_by_hand(image, words_of(4, i, 41), 0.7, scale, ratio, value)
        erased += not np.array_equal(expected, image)
        assert np.array_equal(got, expected)
    assert erased > 0


def test_random_noise_is_the_normal_stream_at_the_samples_start():
    x = np.arange(5 * 3 * 3, dtype=np.float32).reshape(5, 3, 3)  # 9 elements: K = 10 words
    ids = [4, 0, 9, 4, 2]
    out = transforms.RandomNoise(0.25).apply(x.copy(), draw(6, ids))
    for row, got, i in zip(x, out, ids):
        z = normal(SEED, OFFSET, (9,), start=start_of(6, i, 10))
        assert np.array_equal(got, row + z.reshape(3, 3) * np.float32(0.25))
    doubles = transforms.RandomNoise(2.0).apply(x.astype(np.float64), draw(6, ids))
    z = normal(SEED, OFFSET, (9,), start=start_of(6, 4, 10)).astype(np.float64)
    assert doubles.dtype == np.float64 and np.array_equal(doubles[0], x[0] + (z * 2.0).reshape(3, 3))
    ints = transforms.RandomNoise(0.0).apply(np.arange(4).reshape(2, 2), draw(0, [0, 1]))
    assert ints.dtype == np.float32 and ints.tolist() == [[0, 1], [2, 3]]


def test_transforms_handle_empty_batches():
    empty = counters.Draw(SEED, OFFSET, 0, np.zeros(0, np.int64))
    assert vision.RandomCrop(2, padding=1).apply(np.zeros((0, 4, 4, 3), np.uint8), empty).shape == (0, 2, 2, 3)
    assert vision.RandomHorizontalFlip().apply(np.zeros((0, 4, 4, 3)), empty).shape == (0, 4, 4, 3)
    assert vision.RandomErasing().apply(np.zeros((0, 3, 4, 4)), empty).shape == (0, 3, 4, 4)
    assert transforms.RandomNoise(1.0).apply(np.zeros((0, 3)), empty).shape == (0, 3)


def test_eager_call_reserves_one_default_offset_and_copies():
    mc.manual_seed(5)
    x = np.linspace(0, 1, 6, dtype=np.float32)
    seed, offset = (int(t) for t in mc.get_rng_state())
    out = transforms.RandomNoise(1.0)(x)
    assert int(mc.get_rng_state()[1]) == offset + 1
    assert np.array_equal(out, x + normal(seed, offset, (6,), start=start_of(0, 0, 6)))
    assert np.array_equal(x, np.linspace(0, 1, 6, dtype=np.float32))  # the caller's array is untouched
    image = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    both = transforms.Compose([vision.Normalize([0, 0, 0], [1, 1, 1]), vision.HWC2CHW()])(image)
    assert both.shape == (3, 2, 2) and both.dtype == np.float32


def test_failed_eager_call_reserves_nothing():
    mc.manual_seed(5)
    with pytest.raises(ValueError, match=r"For 'RandomCrop', 'size' must be at most the padded image size \(3, 3\), "
                                         r"but got \(4, 4\)\."):
        vision.RandomCrop(4)(np.zeros((3, 3, 1)))
    assert int(mc.get_rng_state()[1]) == 0


def test_compose_flattens_in_order():
    noise, flip = transforms.RandomNoise(1.0), vision.RandomHorizontalFlip()
    inner = transforms.Compose([flip, noise])
    assert transforms.Compose([noise, inner, np.abs]).flatten() == [noise, flip, noise, np.abs]
    assert "RandomNoise(std=1.0)" in repr(noise)


@pytest.mark.parametrize("make, error, message", [
    (lambda: vision.RandomCrop(0), ValueError, r"For 'RandomCrop', 'size' must be positive, but got \(0, 0\)\."),
    (lambda: vision.RandomCrop("32"), TypeError, r"For 'RandomCrop', 'size' must be an int or a sequence of 2 ints, "
                                                 r"but got '32'\."),
    (lambda: vision.RandomCrop(4, padding=(1, 2, 3)), TypeError, r"For 'RandomCrop', 'padding' must be None, an int "
                                                                 r"or a sequence of 2 or 4 ints"),
    (lambda: vision.RandomCrop(4, padding=-1), ValueError, r"For 'RandomCrop', 'padding' must be non-negative, but "
                                                           r"got \(-1, -1, -1, -1\)\."),
    (lambda: vision.RandomCrop(4, pad_if_needed=1), TypeError, r"For 'RandomCrop', 'pad_if_needed' must be a bool, "
                                                               r"but got 1\."),
    (lambda: vision.RandomCrop(4, fill_value=256), ValueError, r"For 'RandomCrop', 'fill_value' must be an int in "
                                                               r"\[0, 256\), but got 256\."),
    (lambda: vision.RandomHorizontalFlip(1.5), ValueError, r"For 'RandomHorizontalFlip', 'prob' must be a float in "
                                                           r"\[0, 1\], but got 1\.5\."),
    (lambda: vision.RandomVerticalFlip(-0.1), ValueError, r"For 'RandomVerticalFlip', 'prob' must be a float in "
                                                          r"\[0, 1\], but got -0\.1\."),
    (lambda: vision.RandomErasing(prob=2), ValueError, r"For 'RandomErasing', 'prob' must be a float in \[0, 1\], "
                                                       r"but got 2\.0\."),
    (lambda: vision.RandomErasing(prob=True), TypeError, r"For 'RandomErasing', 'prob' must be a real number, but "
                                                         r"got True\."),
    (lambda: vision.RandomErasing(scale=(0.5, 0.1)), ValueError, r"For 'RandomErasing', 'scale' must be \(min, "
                                                                 r"max\) with 0 <= min <= max, but got \(0\.5, "
                                                                 r"0\.1\)\."),
    (lambda: vision.RandomErasing(ratio=(0.0, 1.0)), ValueError, r"For 'RandomErasing', 'ratio' must be \(min, "
                                                                 r"max\) with 0 < min <= max, but got \(0\.0, "
                                                                 r"1\.0\)\."),
    (lambda: vision.RandomErasing(value="random"), TypeError, r"For 'RandomErasing', 'value' must be a real number, "
                                                              r"but got 'random'\."),
    (lambda: vision.RandomErasing(max_attempts=0), ValueError, r"For 'RandomErasing', 'max_attempts' must be an int "
                                                               r"in \[1, inf\), but got 0\."),
    (lambda: vision.Normalize([1, 2], [1]), ValueError, r"For 'Normalize', 'std' must be of the length of 'mean' "
                                                        r"\(2\), but got length 1\."),
    (lambda: vision.Normalize([1], [0]), ValueError, r"For 'Normalize', 'std' must be finite floats > 0, but got "
                                                     r"\[0\.0\]\."),
    (lambda: vision.Normalize([1], [1], is_hwc=1), TypeError, r"For 'Normalize', 'is_hwc' must be a bool, but got 1\."),
    (lambda: transforms.RandomNoise(-1.0), ValueError, r"For 'RandomNoise', 'std' must be a finite float >= 0, but "
                                                       r"got -1\.0\."),
    (lambda: transforms.RandomNoise(float("inf")), ValueError, r"For 'RandomNoise', 'std' must be a finite float >= "
                                                               r"0, but got inf\."),
    (lambda: transforms.Compose([]), ValueError, r"For 'Compose', 'transforms' must be a non-empty list, but got "
                                                 r"\[\]\."),
    (lambda: transforms.Compose([1]), TypeError, r"For 'Compose', 'transforms' must be a Transform or a callable, "
                                                 r"but got 1\."),
    (lambda: transforms.Compose(np.abs), TypeError, r"For 'Compose', 'transforms' must be a list of Transforms or "
                                                    r"callables"),
])
def test_constructor_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("transform, x, message", [
    (vision.RandomCrop(6, padding=1), np.zeros((1, 3, 3, 1)), r"For 'RandomCrop', 'size' must be at most the padded "
                                                              r"image size \(5, 5\), but got \(6, 6\)\."),
    (vision.RandomCrop(2), np.zeros((1, 3)), r"For 'RandomCrop', 'x' must be a batch of images of shape \(H, W\) or "
                                             r"\(H, W, C\), but got samples of shape \(3,\)\."),
    (vision.RandomHorizontalFlip(), np.zeros((1, 2, 2, 2, 2)), r"For 'RandomHorizontalFlip', 'x' must be a batch of "
                                                               r"images of shape \(H, W\) or \(H, W, C\), but got "
                                                               r"samples of shape \(2, 2, 2, 2\)\."),
    (vision.Normalize([0, 0, 0], [1, 1, 1]), np.zeros((1, 2, 2, 4)), r"For 'Normalize', 'x' must be images of 3 "
                                                                     r"channels, but got 4 \(shape \(2, 2, 4\)\)\."),
    (vision.Normalize([0], [1]), np.zeros((1, 2, 2)), r"For 'Normalize', 'x' must be a batch of images of shape "
                                                      r"\(H, W, C\), but got samples of shape \(2, 2\)\."),
    (vision.RandomErasing(value=(1, 2)), np.zeros((1, 3, 4, 4)), r"For 'RandomErasing', 'value' must be 1 or 3 "
                                                                 r"entries for a 3-channel image, but got 2\."),
    (vision.RandomErasing(), np.zeros((1, 4, 4)), r"For 'RandomErasing', 'x' must be a batch of images of shape "
                                                  r"\(C, H, W\), but got samples of shape \(4, 4\)\."),
])
def test_input_errors(transform, x, message):
    with pytest.raises(ValueError, match=message):
        transform.apply(x, draw(0, [0] * x.shape[0]))
