"""DataLoader (batching, shuffling, normalisation, exact resume) and the batch transforms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convprop.data import DataLoader, ImageDataset
from convprop.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip
from tests.helpers import require_torch


def _indexed(n=103, c=1, h=4, w=4):
    """Random images with label = index, so the labels of a batch tell which images it holds."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8)
    return images, np.arange(n)


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "sizes"),
    [(10, False, [10] * 10 + [3]), (10, True, [10] * 10), (103, True, [103]), (200, False, [103]), (200, True, [])],
)
def test_batching(batch_size, drop_last, sizes):
    images, labels = _indexed()
    loader = DataLoader((images, labels), batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) == len(batches)
    assert [len(y) for _, y in batches] == sizes
    if sizes:
        seen = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(seen, np.arange(sum(sizes)))
    for x, y in batches:
        assert x.dtype == np.float32 and y.dtype == np.int64 and x.shape[1:] == images.shape[1:]


def test_pixels_scaled_as_torch_to_tensor_and_normalized():
    torch = require_torch()
    images, labels = _indexed(n=20, c=3)
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    x, _ = next(iter(DataLoader((images, labels), batch_size=20)))
    expected = torch.from_numpy(images).float().div(255)
    np.testing.assert_array_equal(x, expected.numpy())
    x, _ = next(iter(DataLoader((images, labels), batch_size=20, normalize=(mean, std))))
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    np.testing.assert_allclose(x, ((expected - m) / s).numpy(), rtol=1e-5, atol=1e-6)
    x64, _ = next(iter(DataLoader((images, labels), batch_size=20, normalize=(mean, std), dtype=np.float64)))
    np.testing.assert_allclose(x64, ((expected.double() - m.double()) / s.double()).numpy(), rtol=1e-6, atol=1e-6)


def test_dataset_normalization_and_float_images():
    images, _ = _indexed(n=12)
    ds = ImageDataset(images, np.arange(12) % 3, mean=0.3, std=0.2)
    x, y = next(iter(DataLoader(ds, batch_size=12, normalize=ds.normalization)))
    np.testing.assert_allclose(x, (images / 255 - 0.3) / 0.2, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, np.arange(12) % 3)
    floats = images / 255.0
    x, _ = next(iter(DataLoader((floats, np.arange(12)), batch_size=12, dtype=np.float64)))
    np.testing.assert_array_equal(x, floats)  # float images are taken as they are


def test_shuffle_is_a_seeded_permutation_per_epoch():
    images, labels = _indexed()
    loader = DataLoader((images, labels), batch_size=16, shuffle=True, generator=np.random.default_rng(5))
    epochs = [np.concatenate([y for _, y in loader]) for _ in range(3)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), labels)
        assert not np.array_equal(order, labels)
    assert not np.array_equal(epochs[0], epochs[1])
    again = DataLoader((images, labels), batch_size=16, shuffle=True, generator=np.random.default_rng(5))
    for order in epochs:
        x_batches = list(again)
        np.testing.assert_array_equal(np.concatenate([y for _, y in x_batches]), order)
        np.testing.assert_array_equal(x_batches[0][0], images[order[:16]] / np.float32(255))
    other = DataLoader((images, labels), batch_size=16, shuffle=True, generator=np.random.default_rng(6))
    assert not np.array_equal(np.concatenate([y for _, y in other]), epochs[0])


def _augmenting_loader(seed):
    images, labels = _indexed(n=50, c=2, h=6, w=6)
    return DataLoader(
        (images, labels),
        batch_size=8,
        shuffle=True,
        generator=np.random.default_rng(seed),
        transform=Compose([RandomCrop(6, padding=2), RandomHorizontalFlip()]),
        normalize=((0.5, 0.4), (0.2, 0.3)),
    )


@pytest.mark.parametrize("stop_after", [0, 1, 6, 7, 12, 13, 14])
def test_exact_resume_from_state_dict(stop_after):
    """Checkpoint after any batch (JSON round trip), resume in a new loader: the same batches follow."""
    reference = _augmenting_loader(seed=11)
    expected = [batch for _ in range(3) for batch in reference]  # 7 batches per epoch
    loader = _augmenting_loader(seed=11)
    seen, it = [], iter(loader)
    for _ in range(stop_after):
        try:
            seen.append(next(it))
        except StopIteration:
            it = iter(loader)
            seen.append(next(it))
    state = json.loads(json.dumps(loader.state_dict()))
    resumed = _augmenting_loader(seed=999)
    resumed.load_state_dict(state)
    while len(seen) < len(expected):
        seen.extend(resumed)
    assert len(seen) == len(expected)
    for (x, y), (ex, ey) in zip(seen, expected, strict=True):
        np.testing.assert_array_equal(y, ey)
        np.testing.assert_array_equal(x, ex)


def test_state_dict_at_epoch_boundary_and_errors():
    loader = _augmenting_loader(seed=3)
    list(loader)
    state = loader.state_dict()
    assert state["batches_done"] == 0
    nxt = [y for _, y in loader]
    restored = _augmenting_loader(seed=4)
    restored.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([y for _, y in restored]), np.concatenate(nxt))
    with pytest.raises(ValueError, match=r"batches_done must be in 0\.\.7, got 8"):
        restored.load_state_dict({"generator": state["generator"], "batches_done": 8})
    with pytest.raises(ValueError, match="expected keys 'generator' and 'batches_done'"):
        restored.load_state_dict({"generator": state["generator"]})
    with pytest.raises(ValueError, match="does not fit this loader's PCG64"):
        restored.load_state_dict({"generator": {"bit_generator": "MT19937"}, "batches_done": 0})


def test_loader_argument_errors():
    images, labels = _indexed(n=10)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader((images, labels), batch_size=0)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\) to match images \(10, 1, 4, 4\)"):
        DataLoader((images, labels[:9]))
    with pytest.raises(ValueError, match=r"images must have shape \(N, C, H, W\), got \(10, 4, 4\)"):
        DataLoader((images[:, 0], labels))
    with pytest.raises(TypeError, match=r"generator must be a np\.random\.Generator, got int"):
        DataLoader((images, labels), generator=0)
    with pytest.raises(TypeError, match="labels must be integers, got float64"):
        DataLoader((images, labels.astype(float)))
    with pytest.raises(TypeError, match="dataset must be an ImageDataset or"):
        DataLoader(images)
    with pytest.raises(ValueError, match=r"normalize must be a pair \(mean, std\) or None, got 0\.5"):
        DataLoader((images, labels), normalize=0.5)
    with pytest.raises(TypeError, match="dtype must be a floating type"):
        DataLoader((images, labels), dtype=np.int32)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_horizontal_flip_frequency_and_content(p):
    rng = np.random.default_rng(0)
    batch = rng.random((4000, 2, 3, 5)).astype(np.float32)
    before = batch.copy()
    out = RandomHorizontalFlip(p)(batch, np.random.default_rng(1))
    np.testing.assert_array_equal(batch, before)  # input untouched
    flipped = np.all(out == batch[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == batch, axis=(1, 2, 3))
    assert np.all(flipped ^ kept)
    assert abs(flipped.mean() - p) <= 4 * np.sqrt(p * (1 - p) / len(batch)) + 1e-12


def test_random_crop_matches_per_image_windows():
    rng = np.random.default_rng(0)
    batch = rng.integers(1, 256, size=(300, 3, 8, 7)).astype(np.float32)
    crop = RandomCrop((6, 5), padding=(1, 2), fill=0)  # left/right 1, top/bottom 2
    out = crop(batch, np.random.default_rng(7))
    assert out.shape == (300, 3, 6, 5)
    padded = np.pad(batch, ((0, 0), (0, 0), (2, 2), (1, 1)))
    replay = np.random.default_rng(7)
    i, j = replay.integers(0, 12 - 6 + 1, size=300), replay.integers(0, 9 - 5 + 1, size=300)
    for n in range(300):
        np.testing.assert_array_equal(out[n], padded[n, :, i[n] : i[n] + 6, j[n] : j[n] + 5])
    # Every offset occurs, and the padding shows up with the fill value.
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == 7 * 5
    assert (out == 0).any() and (batch != 0).all()


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_random_crop_padding_modes_and_fill(mode):
    batch = np.arange(2 * 1 * 5 * 5, dtype=np.float64).reshape(2, 1, 5, 5)
    crop = RandomCrop(9, padding=(2, 2, 2, 2), fill=-1.5, padding_mode=mode)
    out = crop(batch, np.random.default_rng(0))  # 9 = 5 + 2 + 2: the only window is the padded image
    kwargs = {"constant_values": -1.5} if mode == "constant" else {}
    np.testing.assert_array_equal(out, np.pad(batch, ((0, 0), (0, 0), (2, 2), (2, 2)), mode=mode, **kwargs))


def test_random_crop_asymmetric_padding_and_no_padding():
    batch = np.ones((50, 1, 4, 4), np.float32)
    out = RandomCrop(4, padding=(3, 0, 0, 0))(batch, np.random.default_rng(0))  # left only
    assert out.shape == (50, 1, 4, 4)
    zero_columns = (out == 0).all(axis=(1, 2))  # (N, W): which columns came from the padding
    assert zero_columns[:, 3].sum() == 0 and zero_columns[:, 0].any()
    assert not (out == 0).all(axis=(1, 3)).any()  # never a padded row: there is no top/bottom padding
    small = RandomCrop(2)(np.arange(16.0).reshape(1, 1, 4, 4), np.random.default_rng(0))
    assert small.shape == (1, 1, 2, 2)


def test_transform_errors():
    batch = np.zeros((2, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match=r"RandomCrop: a random transform needs a np\.random\.Generator, got NoneType"):
        RandomCrop(4)(batch)
    with pytest.raises(ValueError, match=r"crop size \(6, 6\) is larger than the padded image \(5, 5\)"):
        RandomCrop(6, padding=(0, 0, 1, 1))(batch, np.random.default_rng(0))
    with pytest.raises(ValueError, match="RandomCrop: size must be positive"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="RandomCrop: padding must be non-negative"):
        RandomCrop(4, padding=-1)
    with pytest.raises(ValueError, match=r"padding must be an int or a tuple of 2 or 4 ints, got \(1, 2, 3\)"):
        RandomCrop(4, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        RandomCrop(4, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, C, H, W\), got shape \(1, 4, 4\)"):
        RandomHorizontalFlip()(batch[0], np.random.default_rng(0))
    with pytest.raises(ValueError, match="Normalize: std must be positive"):
        Normalize(0.5, 0.0)
    with pytest.raises(ValueError, match="Normalize: mean has 3 values but the batch has 1 channels"):
        Normalize((0.1, 0.2, 0.3), 1.0)(batch)
    with pytest.raises(TypeError, match="Compose: every transform must be callable"):
        Compose([RandomCrop(4), 3])


def test_normalize_and_compose_against_torch():
    torch = require_torch()
    rng = np.random.default_rng(0)
    batch = rng.random((5, 3, 4, 4))
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    m, s = torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64)
    expected = (torch.from_numpy(batch) - m.view(1, 3, 1, 1)) / s.view(1, 3, 1, 1)
    np.testing.assert_allclose(Normalize(mean, std)(batch), expected.numpy(), rtol=1e-10, atol=1e-12)
    out32 = Normalize(mean, std)(batch.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, expected.numpy(), rtol=1e-5, atol=1e-5)
    # Compose applies in order and passes the generator through.
    composed = Compose([RandomHorizontalFlip(1.0), Normalize(mean, std)])(batch, np.random.default_rng(0))
    np.testing.assert_allclose(composed, expected.numpy()[..., ::-1], rtol=1e-10, atol=1e-12)
