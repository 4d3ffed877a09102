# SPDX-License-Identifier: Apache-2.0
"""The context-manager shape the harness's clusters share."""
from __future__ import annotations


class BuiltOnEnter:
    """Builds on __enter__ (subclasses define _build) and always closes (close), also when building fails half-way:
    a cluster that started three servers and failed on the fourth must not leave the three behind."""

    def _build(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()
