"""Settings objects that round-trip through JSON, the one idiom for every config dataclass.

Architectures (``ECNetConfig``, ``GANConfig``, ``SACAConfig``, ``DCGANConfig``) and training
settings (``TrainConfig``, ``EFTGANTrainConfig``, ``SACATrainConfig``, ``DCGANTrainConfig``)
are dataclasses that inherit :class:`JSONSettings`. Their dictionary is what a model folder's
``config.json`` records and what a run's fingerprint compares, so it must read back into an equal
object: JSON has no tuples, so tuple fields are written as lists and turned back into tuples.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["JSONSettings"]

S = TypeVar("S", bound="JSONSettings")


def _lists(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return [_lists(v) for v in x]
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    return x


def _is_tuple_field(f: dataclasses.Field[Any]) -> bool:
    return str(f.type).startswith("tuple")


class JSONSettings:
    """Mixin for dataclasses: :meth:`as_dict` and its inverse :meth:`from_dict`."""

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-able dictionary (tuples as lists)."""
        return _lists(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[S], d: dict[str, Any]) -> S:
        """The settings of an :meth:`as_dict` dictionary (lists back to tuples where the field
        is a tuple); an unknown key is a ``TypeError``, a missing one takes its default."""
        d = dict(d)
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if _is_tuple_field(f) and isinstance(d.get(f.name), list):
                d[f.name] = tuple(_tuples(v) for v in d[f.name])
        return cls(**d)


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x
