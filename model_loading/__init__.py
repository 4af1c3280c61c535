"""Getting pretrained models into the plain `from_pretrained` folder layout the pipeline expects.

Names are imported lazily, so `python -m model_loading.gguf` does not import its module twice.
"""

__all__ = ["convert_gguf", "smollm2_gguf_path"]


def __getattr__(name):
    if name in __all__:
        from . import gguf

        return getattr(gguf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
