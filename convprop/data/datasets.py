"""The datasets convprop trains on, where their files are looked up, and how they are fetched.

``load_dataset(name, split)`` returns an :class:`ImageDataset`: the whole split in
memory as uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``, with the class
names and the per-channel mean and standard deviation of the training images
(in units of pixel / 255) that the loader uses to normalise.

Files are looked up, in this order, in:

1. ``data_dir`` (the CLI's ``--data-dir``), then ``data_dir/<name>``;
2. ``$CONVPROP_DATA/<name>`` when the environment variable is set;
3. ``~/.cache/convprop/<name>``;
4. ``/usr/share/datasets/<name>`` (Debian/Ubuntu: ``apt install dataset-fashion-mnist``).

The first directory holding every file of the requested split wins. When none
does and ``download`` is true, the missing files are downloaded (SHA-256 verified,
atomically renamed into place) into ``data_dir``, else ``$CONVPROP_DATA/<name>``,
else ``~/.cache/convprop/<name>``. ``$CONVPROP_DATA_URL`` (or ``base_url``)
replaces the official download location, e.g. by a local mirror.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convprop.data.cifar import ARCHIVE_DIR, read_cifar_archive, read_cifar_batches
from convprop.data.download import DownloadError, download_file
from convprop.data.errors import DatasetError
from convprop.data.idx import read_idx

# Where Debian and Ubuntu install dataset packages; a module attribute so tests can point it elsewhere.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What convprop knows about a dataset: files, classes, statistics and download location.

    ``mean`` and ``std`` are per channel, over the training images, in units of pixel / 255.
    ``remote`` maps each downloadable file name to the SHA-256 digests accepted for it.
    """

    name: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_shape: tuple[int, int, int]
    split_files: dict[str, tuple[str, ...]]
    base_urls: tuple[str, ...]
    remote: dict[str, tuple[str, ...]]
    format: str  # "idx" or "cifar-binary"
    install_hint: str = ""
    homepage: str = ""
    archive: str | None = field(default=None)


FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # Computed here over the 60000 training images of the official files.
    mean=(0.2860,),
    std=(0.3530,),
    image_shape=(1, 28, 28),
    split_files={
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    },
    base_urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    # First digest: the files at the official location, as listed by TensorFlow Datasets
    # (tensorflow/datasets, tensorflow_datasets/url_checksums/fashion_mnist.txt). Second: the same
    # data as recompressed by Debian's dataset-fashion-mnist package (computed from its files), so a
    # mirror of those files can be used through $CONVPROP_DATA_URL.
    remote={
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
        ),
    },
    format="idx",
    install_hint="on Debian or Ubuntu, as root: apt-get install dataset-fashion-mnist",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
)

MNIST = DatasetInfo(
    name="mnist",
    classes=tuple(str(d) for d in range(10)),
    # The usual MNIST training-set statistics.
    mean=(0.1307,),
    std=(0.3081,),
    image_shape=(1, 28, 28),
    split_files=FASHION_MNIST.split_files,
    # The CVDF mirror first (yann.lecun.com often refuses downloads now), then the original site
    # (plain http there; the SHA-256 check is what makes any source trustworthy).
    base_urls=("https://storage.googleapis.com/cvdf-datasets/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    # From TensorFlow Datasets, tensorflow_datasets/url_checksums/mnist.txt (the CVDF mirror of the original files).
    remote={
        "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",),
        "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",),
    },
    format="idx",
    homepage="http://yann.lecun.com/exdb/mnist/",
)

CIFAR10 = DatasetInfo(
    name="cifar10",
    classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    # Per-channel mean and (population) standard deviation of the 50000 training images.
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2470, 0.2435, 0.2616),
    image_shape=(3, 32, 32),
    split_files={"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)},
    base_urls=("https://www.cs.toronto.edu/~kriz/",),
    # From TensorFlow Datasets, tensorflow_datasets/url_checksums/cifar10.txt.
    remote={"cifar-10-binary.tar.gz": ("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",)},
    format="cifar-binary",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    archive="cifar-10-binary.tar.gz",
)

DATASETS: dict[str, DatasetInfo] = {d.name: d for d in (FASHION_MNIST, MNIST, CIFAR10)}
DEFAULT_DATASET = "fashion-mnist"


class ImageDataset:
    """A labelled image dataset held in memory: uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``.

    Indexing returns ``(images[index], labels[index])`` for an int, a slice or an
    index array, so ``DataLoader`` can gather a whole batch in one NumPy operation.

    Args:
        images: uint8 array ``(N, C, H, W)``; ``(N, H, W)`` is taken as one channel.
        labels: integer array ``(N,)`` with values in ``0 .. len(classes) - 1``.
        classes: class names; default ``"0" .. str(max label)``.
        mean, std: per-channel statistics in pixel / 255 units, used by ``normalization``.
        name, split, source: where the data came from (for messages).

    Example:
        >>> ds = ImageDataset(np.zeros((4, 1, 8, 8), np.uint8), np.array([0, 1, 0, 1]))
        >>> len(ds), ds[1:3][0].shape
        (4, (2, 1, 8, 8))
    """

    def __init__(self, images, labels, classes=None, mean=None, std=None, name=None, split=None, source=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or images.dtype != np.uint8:
            raise ValueError(f"ImageDataset: images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"ImageDataset: labels must be integers of shape ({len(images)},) to match images {images.shape}, "
                f"got {labels.dtype} {labels.shape}"
            )
        labels = labels.astype(np.int64, copy=False)
        if classes is None:
            classes = tuple(str(c) for c in range(int(labels.max(initial=-1)) + 1))
        if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(
                f"ImageDataset: labels must lie in 0..{len(classes) - 1} ({len(classes)} classes), "
                f"got {labels.min()}..{labels.max()}"
            )
        channels = images.shape[1]
        self.mean = _per_channel(mean, 0.0, channels, "mean")
        self.std = _per_channel(std, 1.0, channels, "std")
        self.images, self.labels, self.classes = images, labels, tuple(classes)
        self.name, self.split, self.source = name, split, source

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def subset(self, index, split: str | None = None) -> ImageDataset:
        """The images at ``index`` (an index array or a slice) as a dataset with the same classes and statistics."""
        return ImageDataset(
            self.images[index], self.labels[index], self.classes, self.mean, self.std, self.name,
            split or self.split, self.source,
        )  # fmt: skip

    @property
    def border_brightness(self) -> float:
        """The brightness (pixel / 255) of the outermost ring of pixels over the first 1000 images."""
        return border_brightness(self.images[:1000]) / 255

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, std)`` per channel, ready for ``DataLoader(normalize=...)``."""
        return self.mean, self.std

    def __repr__(self) -> str:
        what = f"{self.name} {self.split}" if self.name else "ImageDataset"
        where = f", source={str(self.source)!r}" if self.source else ""
        return f"<{what}: {len(self)} images {self.images.shape[1:]}, {self.num_classes} classes{where}>"


def border_brightness(images: np.ndarray) -> float:
    """The mean of the outermost ring of pixels of ``images`` (..., H, W), in the images' own units.

    The background's brightness: about 0 for Fashion-MNIST's light objects on black, near 1 for a
    photo of an object on a white page (as pixel / 255).
    """
    ring = [images[..., 0, :], images[..., -1, :], images[..., 1:-1, 0], images[..., 1:-1, -1]]
    return float(sum(part.sum(dtype=np.float64) for part in ring) / sum(part.size for part in ring))


def _per_channel(value, default: float, channels: int, name: str) -> tuple[float, ...]:
    value = (default,) * channels if value is None else tuple(float(v) for v in np.atleast_1d(value))
    if len(value) == 1:
        value *= channels
    if len(value) != channels:
        raise ValueError(f"ImageDataset: {name} must have 1 or {channels} values (one per channel), got {value}")
    return value


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The directories searched for dataset ``name``, in order (see the module docstring)."""
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir).expanduser(), Path(data_dir).expanduser() / name]
    env = os.environ.get("CONVPROP_DATA")
    if env:
        dirs.append(Path(env).expanduser() / name)
    dirs.append(Path.home() / ".cache" / "convprop" / name)
    dirs.append(SYSTEM_DATA_DIR / name)
    return dirs


def download_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where missing files of dataset ``name`` are downloaded to."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("CONVPROP_DATA")
    return Path(env).expanduser() / name if env else Path.home() / ".cache" / "convprop" / name


def _find_idx(directory: Path, files: tuple[str, ...]) -> Callable | None:
    """A reader for the split if ``directory`` holds each file, gzip or already decompressed."""
    paths = []
    for f in files:
        candidates = (directory / f, directory / f.removesuffix(".gz"))
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            return None
        paths.append(path)
    return lambda: _read_idx_split(*paths)


def _read_idx_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{images_path}: expected uint8 images (N, H, W), found {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DatasetError(f"{labels_path}: expected uint8 labels (N,), found {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels; "
            "the two files do not belong together"
        )
    return images[:, None], labels.astype(np.int64)


def _find_cifar(directory: Path, files: tuple[str, ...], archive: str) -> Callable | None:
    """A reader for the split from extracted batch files, or else from the unextracted archive."""
    for d in (directory / ARCHIVE_DIR, directory):
        paths = [d / f for f in files]
        if all(p.is_file() for p in paths):
            return lambda: read_cifar_batches(paths)
    if (directory / archive).is_file():
        return lambda: read_cifar_archive(directory / archive, files)
    return None


def _finder(info: DatasetInfo, split: str) -> Callable[[Path], Callable | None]:
    files = info.split_files[split]
    if info.format == "idx":
        return lambda d: _find_idx(d, files)
    return lambda d: _find_cifar(d, files, info.archive)


def _remote_files(info: DatasetInfo, split: str, directory: Path) -> list[str]:
    """The files to download into ``directory`` to complete ``split``."""
    if info.archive is not None:
        return [info.archive]
    return [f for f in info.split_files[split] if not (directory / f).is_file()]


def _fetch(info: DatasetInfo, files: list[str], directory: Path, base_url: str | None, progress: bool):
    """Download ``files``, trying each mirror in turn; raise DownloadError listing every failure."""
    base_urls = (base_url,) if base_url else info.base_urls
    for f in files:
        failures = []
        for base in base_urls:
            try:
                download_file(base.rstrip("/") + "/" + f, directory / f, info.remote[f], progress=progress)
                break
            except DatasetError as exc:
                failures.append(str(exc))
        else:
            raise DownloadError("; ".join(failures))


def load_dataset(
    name: str = DEFAULT_DATASET,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    base_url: str | None = None,
    progress: bool = True,
) -> ImageDataset:
    """Load one split of a dataset into memory, downloading the files if they are nowhere to be found.

    Args:
        name: ``"fashion-mnist"`` (default), ``"mnist"`` or ``"cifar10"``.
        split: ``"train"`` or ``"test"``.
        data_dir: a directory searched first (the files directly in it, or in ``data_dir/<name>``),
            and where downloads go.
        download: fetch missing files from the official location (or ``base_url``).
        base_url: replaces the official download location; default ``$CONVPROP_DATA_URL`` if set.
        progress: show a progress bar while downloading.

    Returns:
        An :class:`ImageDataset` with uint8 images ``(N, C, H, W)``, int64 labels, the class names
        and the dataset's ``mean``/``std``.

    Raises:
        DatasetError: unknown name or split; a file is corrupt or truncated (the message names it);
            the files are missing and could not be downloaded (the message says which files to put
            where).

    Example:
        >>> train = load_dataset("fashion-mnist", "train")
        >>> train.images.shape, train.classes[9]
        ((60000, 1, 28, 28), 'Ankle boot')
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise DatasetError(f"{name}: unknown split {split!r}; choose 'train' or 'test'")
    info = DATASETS[name]
    find = _finder(info, split)
    dirs = search_dirs(name, data_dir)
    for directory in dirs:
        reader = find(directory)
        if reader is not None:
            return _dataset(info, split, reader, directory)

    # Training needs both splits: name every file, not just this split's.
    wanted = [f for files in info.split_files.values() for f in files]
    where = ", ".join(map(str, dirs))
    if info.archive is not None:
        what = f"{info.archive}, or the folder {ARCHIVE_DIR}/ extracted from it ({', '.join(wanted)}),"
    else:
        what = ", ".join(wanted) + " (gzip-compressed or not)"
    # One line (as every convprop error): the files, where they may go, where they come from.
    how_to = (
        f"Put {what} into one of {where}; they are published at {info.base_urls[0]} "
        f"($CONVPROP_DATA_URL selects another server)" + (f"; {info.install_hint}" if info.install_hint else "")
    )
    if not download:
        raise DatasetError(f"{name} ({split}): files not found and downloading is off. {how_to}")
    target = download_dir(name, data_dir)
    base_url = base_url or os.environ.get("CONVPROP_DATA_URL") or None
    try:
        _fetch(info, _remote_files(info, split, target), target, base_url, progress)
    except DownloadError as exc:
        raise DownloadError(
            f"{name} ({split}): files not found locally and the download failed: {exc}. {how_to}"
        ) from None
    reader = find(target)
    if reader is None:
        raise DatasetError(f"{name} ({split}): downloaded into {target} but the split's files are still missing")
    return _dataset(info, split, reader, target)


def _dataset(info: DatasetInfo, split: str, reader: Callable, directory: Path) -> ImageDataset:
    images, labels = reader()
    if images.shape[1:] != info.image_shape:
        raise DatasetError(
            f"{info.name} ({split}) in {directory}: expected images of shape {info.image_shape}, "
            f"found {images.shape[1:]}"
        )
    if labels.max(initial=0) >= len(info.classes):
        raise DatasetError(
            f"{info.name} ({split}) in {directory}: label {labels.max()} is out of range for "
            f"{len(info.classes)} classes"
        )
    return ImageDataset(images, labels, info.classes, info.mean, info.std, info.name, split, directory)
