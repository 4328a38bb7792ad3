"""Loading CIFAR-10 from any of its common layouts, into tensors, once.

Supported sources (folder or .tar.gz/.tgz/.tar/.zip/.7z archive, auto-detected): torchvision's
pickled batches, the Kaggle competition files, and ``train/<class>/`` image folders; plus a
procedurally drawn ``synthetic`` set on request. Decoded arrays are cached per source version.
"""

from cifar_core.data.cache import default_cache_dir
from cifar_core.data.coverage import class_coverage_warnings
from cifar_core.data.loader import load_cifar
from cifar_core.data.split import stratified_split, stratified_subset
from cifar_core.data.synthetic import load_synthetic
from cifar_core.data.types import CifarData, CifarSplit
from cifar_core.data.unlabelled import iter_unlabelled_images

__all__ = [
    "CifarData",
    "CifarSplit",
    "class_coverage_warnings",
    "default_cache_dir",
    "iter_unlabelled_images",
    "load_cifar",
    "load_synthetic",
    "stratified_split",
    "stratified_subset",
]
