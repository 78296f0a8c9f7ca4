"""Modules of the optional extras (gensim, scipy and psutil of ``bench``; nbformat and
nbclient of ``dev``; the kernel, matplotlib and scikit-learn of ``notebooks``) that some
tests compare against or run.

``make test`` installs these extras and sets ``W2V_SPARK_EXTRAS=required``: there a missing
module fails the test instead of skipping it, so a comparison with a peer can never go quietly
untested. Elsewhere (a bare ``pytest`` without the extras) those tests skip, saying why.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

#: The environment variable ``make test`` sets.
ENV_VAR = "W2V_SPARK_EXTRAS"


def extra(name: str) -> ModuleType:
    """Import module ``name`` of an optional extra, or skip (fail when the extras are
    required)."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        message = (f"{name} is not installed ({exc}); install the extras with "
                   "pip install -e '.[dev,bench,notebooks]'")
        if os.environ.get(ENV_VAR) == "required":
            pytest.fail(message + f" ({ENV_VAR}=required)")
        pytest.skip(message)
