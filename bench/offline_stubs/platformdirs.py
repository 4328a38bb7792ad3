"""Stand-in for platformdirs on a machine without it (bench/gpu.sh sets CIFAR_EXPLORER_CACHE)."""

import os


def user_cache_dir(appname: str) -> str:
    return os.path.join(os.path.expanduser("~"), ".cache", appname)
