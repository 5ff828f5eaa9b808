"""Datasets: file lookup order, IDX and CIFAR-10 binary parsing, consistency checks, the real Fashion-MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convprop.data import (
    DATASETS,
    DatasetError,
    ImageDataset,
    load_dataset,
    read_cifar_archive,
    read_cifar_batches,
    search_dirs,
    write_cifar10_dataset,
    write_cifar_batch,
    write_idx,
    write_idx_dataset,
)
from convprop.data.cifar import RECORD_BYTES, write_cifar_archive

REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_lookup_order(isolated, monkeypatch):
    monkeypatch.setenv("CONVPROP_DATA", str(isolated / "env"))
    places = {
        "data_dir": isolated / "explicit",
        "data_dir/name": isolated / "explicit2" / "fashion-mnist",
        "env": isolated / "env" / "fashion-mnist",
        "cache": isolated / "home" / ".cache" / "convprop" / "fashion-mnist",
        "system": isolated / "system" / "fashion-mnist",
    }
    assert search_dirs("fashion-mnist", isolated / "explicit") == [
        places["data_dir"],
        isolated / "explicit" / "fashion-mnist",
        places["env"],
        places["cache"],
        places["system"],
    ]
    # Each place gets a different dataset (seed) so the loaded images tell where they came from.
    for seed, d in enumerate(places.values()):
        write_idx_dataset(d, n_train=20, n_test=10, seed=seed)
    expected = {name: load_dataset(data_dir=d, download=False).images for name, d in places.items()}
    assert load_dataset(data_dir=places["data_dir"], download=False).source == places["data_dir"]
    assert load_dataset(data_dir=isolated / "explicit2", download=False).source == places["data_dir/name"]
    for name in ("env", "cache", "system"):
        ds = load_dataset(download=False)
        assert ds.source == places[name]
        np.testing.assert_array_equal(ds.images, expected[name])
        for f in places[name].iterdir():
            f.unlink()
    with pytest.raises(DatasetError, match="files not found"):
        load_dataset(download=False)


def test_a_split_is_found_where_it_is_complete(isolated):
    """A cache holding only the training files does not hide a complete test split further down."""
    cache = isolated / "home" / ".cache" / "convprop" / "fashion-mnist"
    write_idx_dataset(cache, n_train=20, n_test=10)
    for f in cache.glob("t10k-*"):
        f.unlink()
    write_idx_dataset(isolated / "system" / "fashion-mnist", n_train=20, n_test=10)
    assert load_dataset(split="train", download=False).source == cache
    assert load_dataset(split="test", download=False).source == isolated / "system" / "fashion-mnist"


def test_decompressed_and_mixed_files(isolated):
    raw = write_idx_dataset(isolated / "raw", n_train=40, n_test=10, gzip=False)
    gz = write_idx_dataset(isolated / "gz", n_train=40, n_test=10, gzip=True)
    (gz / "train-labels-idx1-ubyte.gz").unlink()
    (gz / "train-labels-idx1-ubyte").write_bytes((raw / "train-labels-idx1-ubyte").read_bytes())
    a = load_dataset("fashion-mnist", "train", data_dir=raw, download=False)
    b = load_dataset("fashion-mnist", "train", data_dir=gz, download=False)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.images.dtype == np.uint8 and a.images.shape == (40, 1, 28, 28)
    assert a.labels.dtype == np.int64 and sorted(np.unique(a.labels)) == list(range(10))


@pytest.mark.parametrize(("n_labels", "what"), [(39, "holds 39 labels"), (41, "holds 41 labels")])
def test_label_file_that_does_not_match(isolated, n_labels, what):
    d = write_idx_dataset(isolated / "d", n_train=40, n_test=10)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(n_labels, np.uint8))
    with pytest.raises(DatasetError, match=f"holds 40 images but .*train-labels-idx1-ubyte.gz {what}"):
        load_dataset(data_dir=d, download=False)


def test_wrong_contents_are_named(isolated):
    d = write_idx_dataset(isolated / "d", n_train=40, n_test=10)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros((40, 2), np.uint8))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz: expected uint8 labels \(N,\)"):
        load_dataset(data_dir=d, download=False)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.full(40, 10, np.uint8))
    with pytest.raises(DatasetError, match="label 10 is out of range for 10 classes"):
        load_dataset(data_dir=d, download=False)
    write_idx(d / "train-images-idx3-ubyte.gz", np.zeros((40, 32, 32), np.uint8))
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(40, np.uint8))
    with pytest.raises(DatasetError, match=r"expected images of shape \(1, 28, 28\), found \(1, 32, 32\)"):
        load_dataset(data_dir=d, download=False)
    (d / "t10k-images-idx3-ubyte.gz").write_bytes((d / "t10k-images-idx3-ubyte.gz").read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz: truncated"):
        load_dataset(split="test", data_dir=d, download=False)


def test_unknown_name_and_split():
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet'; choose one of fashion-mnist, mnist, cifar10"):
        load_dataset("imagenet")
    with pytest.raises(DatasetError, match="unknown split 'valid'"):
        load_dataset("mnist", "valid")


def test_cifar_binary_parsing(tmp_path):
    """Record layout: label byte, then R, G, B planes of 32x32 in row-major order (= one CHW image)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7)
    path = write_cifar_batch(tmp_path / "b.bin", images, labels)
    raw = np.frombuffer(path.read_bytes(), np.uint8)
    assert raw.size == 7 * RECORD_BYTES
    record = raw[2 * RECORD_BYTES : 3 * RECORD_BYTES]
    assert record[0] == labels[2]
    assert record[1 + 1024 + 5 * 32 + 9] == images[2, 1, 5, 9]  # green plane, row 5, column 9
    x, y = read_cifar_batches([path, path])
    np.testing.assert_array_equal(x, np.concatenate([images, images]))
    np.testing.assert_array_equal(y, np.concatenate([labels, labels]))
    assert y.dtype == np.int64


def test_cifar_corrupt_batches(tmp_path):
    good = write_cifar_batch(tmp_path / "g.bin", np.zeros((2, 3, 32, 32), np.uint8), np.array([1, 2]))
    (tmp_path / "short.bin").write_bytes(good.read_bytes()[:-5])
    with pytest.raises(DatasetError, match=r"short.bin: not a CIFAR-10 binary batch: 6141 bytes .* 3073-byte record"):
        read_cifar_batches([tmp_path / "short.bin"])
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(DatasetError, match="0 bytes"):
        read_cifar_batches([tmp_path / "empty.bin"])
    bad = bytearray(good.read_bytes())
    bad[RECORD_BYTES] = 12
    (tmp_path / "label.bin").write_bytes(bytes(bad))
    with pytest.raises(DatasetError, match=r"label.bin: record 1 has label 12, expected 0..9"):
        read_cifar_batches([tmp_path / "label.bin"])


def test_cifar_archive(tmp_path):
    archive = write_cifar10_dataset(tmp_path / "a", n_train=25, n_test=5, archive=True)
    extracted = write_cifar10_dataset(tmp_path / "e", n_train=25, n_test=5)
    for split, n in (("train", 25), ("test", 5)):
        a = load_dataset("cifar10", split, data_dir=archive.parent, download=False)
        e = load_dataset("cifar10", split, data_dir=extracted.parent, download=False)
        assert a.images.shape == (n, 3, 32, 32)
        np.testing.assert_array_equal(a.images, e.images)
        np.testing.assert_array_equal(a.labels, e.labels)
    # Batch files directly in the directory (no cifar-10-batches-bin/ level) are found too.
    assert len(load_dataset("cifar10", "test", data_dir=extracted, download=False)) == 5
    assert (extracted / "batches.meta.txt").read_text().split() == list(DATASETS["cifar10"].classes)
    files = {"data_batch_1.bin": b"\0" * RECORD_BYTES}
    partial = write_cifar_archive(tmp_path / "p.tar.gz", files)
    with pytest.raises(DatasetError, match=r"p.tar.gz: the archive has no cifar-10-batches-bin/test_batch.bin"):
        read_cifar_archive(partial, ["test_batch.bin"])
    (tmp_path / "cut.tar.gz").write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(DatasetError, match=r"cut.tar.gz: unreadable CIFAR-10 archive"):
        read_cifar_archive(tmp_path / "cut.tar.gz", ["test_batch.bin"])


def test_image_dataset_validation_and_indexing():
    images = np.arange(6 * 4 * 4, dtype=np.uint8).reshape(6, 4, 4)
    ds = ImageDataset(images, np.array([0, 1, 2, 0, 1, 2]), mean=0.5, std=0.25)
    assert ds.images.shape == (6, 1, 4, 4) and ds.classes == ("0", "1", "2") and ds.num_classes == 3
    assert ds.normalization == ((0.5,), (0.25,))
    x, y = ds[np.array([4, 1])]
    np.testing.assert_array_equal(x[:, 0], images[[4, 1]])
    np.testing.assert_array_equal(y, [1, 1])
    with pytest.raises(ValueError, match=r"images must be uint8 \(N, C, H, W\), got float64"):
        ImageDataset(np.zeros((2, 1, 3, 3)), [0, 1])
    with pytest.raises(ValueError, match=r"labels must be integers of shape \(2,\)"):
        ImageDataset(np.zeros((2, 1, 3, 3), np.uint8), [0, 1, 1])
    with pytest.raises(ValueError, match=r"labels must lie in 0..1 \(2 classes\), got 0..2"):
        ImageDataset(np.zeros((2, 1, 3, 3), np.uint8), [0, 2], classes=["a", "b"])
    with pytest.raises(ValueError, match="mean must have 1 or 3 values"):
        ImageDataset(np.zeros((2, 3, 3, 3), np.uint8), [0, 1], mean=(0.1, 0.2))


@pytest.mark.parametrize("writer", [write_idx_dataset, write_cifar10_dataset])
def test_synthetic_classes_are_learnable(tmp_path, writer):
    """A nearest-class-mean classifier fitted on the train split already separates the test split."""
    writer(tmp_path, n_train=200, n_test=100, seed=5)
    name = "fashion-mnist" if writer is write_idx_dataset else "cifar10"
    train = load_dataset(name, "train", data_dir=tmp_path, download=False)
    test = load_dataset(name, "test", data_dir=tmp_path, download=False)
    x, xt = train.images.reshape(len(train), -1) / 255.0, test.images.reshape(len(test), -1) / 255.0
    means = np.stack([x[train.labels == c].mean(0) for c in range(10)])
    predicted = np.argmin(((xt[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (predicted == test.labels).mean() > 0.9
    # ...while the images of one class are not copies of each other.
    assert np.unique(train.images[train.labels == 0].reshape(-1, x.shape[1]), axis=0).shape[0] > 1
    writer(tmp_path / "again", n_train=200, n_test=100, seed=5)
    again = load_dataset(name, "train", data_dir=tmp_path / "again", download=False)
    np.testing.assert_array_equal(again.images, train.images)


def test_real_fashion_mnist_in_system_location(tmp_path, monkeypatch):
    if not (REAL_FASHION / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed in {REAL_FASHION} (apt install dataset-fashion-mnist)")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CONVPROP_DATA", raising=False)
    train = load_dataset("fashion-mnist", "train", download=False)
    test = load_dataset("fashion-mnist", "test", download=False)
    assert train.source == REAL_FASHION
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 1, 28, 28)
    for ds in (train, test):
        assert ds.labels.dtype == np.int64 and ds.labels.min() == 0 and ds.labels.max() == 9
        assert (np.bincount(ds.labels) == len(ds) // 10).all()
    # The published normalisation constants are the statistics of these training images.
    pixels = train.images / 255.0
    assert abs(pixels.mean() - train.mean[0]) < 1e-4 and abs(pixels.std() - train.std[0]) < 1e-4
    assert train.classes[0] == "T-shirt/top" and train.classes[9] == "Ankle boot"
