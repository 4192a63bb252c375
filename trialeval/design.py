"""Who is compared with whom: the design of an evaluation, declared once and used to draw and to permute.

A :class:`Design` holds what randomisation inference must respect — the groups and which one is the
reference, the blocks within which the assignment was made, the share assigned to the programme, and
whether the groups were formed by lot at all. The same object that describes the draw produces the
re-randomisations of every randomisation-inference routine (:meth:`Design.permutations`), so the
inference can never disagree with how the groups were formed (randomizr's ``declare_ra`` is the model).

Only a randomised design can be permuted: a selection draw (everyone drawn is in the programme) or a
comparison group built from the register has no lottery to re-run, and asking for randomisation
inference there is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from trialeval.exceptions import DesignError

DesignKind = Literal["randomised", "selection", "comparison"]
DESIGN_KINDS: tuple[DesignKind, ...] = ("randomised", "selection", "comparison")

#: What a design that is not a lottery rests on, for labels and messages.
ASSUMPTIONS: dict[DesignKind, str] = {
    "randomised": "random assignment",
    "selection": "a random selection of participants, all in the programme (no control group)",
    "comparison": "selection on observables or parallel pre-trends (not random assignment)",
}


@dataclass(frozen=True, eq=False)
class Design:
    """The design of an evaluation: its groups, blocks and share, and whether it was randomised.

    Parameters
    ----------
    kind
        ``"randomised"`` (a lottery between the groups), ``"selection"`` (a random draw of participants,
        all in the programme) or ``"comparison"`` (a comparison group built from the register).
    groups
        The group labels, the programme group first (e.g. ``("treatment", "control")``).
    reference
        The group effects are measured against (the control or comparison group).
    share
        Each drawn person's probability of the programme group (randomised designs).
    blocks
        The block of each unit (any labels, one per unit in the order the caller uses), within which the
        assignment was complete randomisation; ``None`` for one block.

    Examples
    --------
    >>> import numpy as np
    >>> design = Design(blocks=np.array(["a", "a", "b", "b", "b"]))
    >>> perm = design.permutations(np.random.default_rng(1), 3)
    >>> perm.shape, sorted(perm[0][:2].tolist()), sorted(perm[0][2:].tolist())
    ((3, 5), [0, 1], [2, 3, 4])
    >>> Design(kind="comparison", groups=("programme", "comparison"), reference="comparison").permutations(
    ...     np.random.default_rng(1), 3)
    Traceback (most recent call last):
    ...
    trialeval.exceptions.DesignError: randomisation inference re-runs a lottery, but this is a comparison design: its groups were not formed by lot (it rests on selection on observables or parallel pre-trends (not random assignment))
    """

    kind: DesignKind = "randomised"
    groups: tuple[str, ...] = ("treatment", "control")
    reference: str = "control"
    share: float | None = 0.5
    blocks: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in DESIGN_KINDS:
            raise DesignError(f"design kind must be one of {', '.join(DESIGN_KINDS)}; got {self.kind!r}")
        if self.reference not in self.groups and self.kind != "selection":
            raise DesignError(f"the reference group {self.reference!r} is not one of the groups "
                              f"{', '.join(map(repr, self.groups))}")

    @property
    def randomised(self) -> bool:
        """Whether the groups were formed by lot, so that randomisation inference applies."""
        return self.kind == "randomised"

    @property
    def assumption(self) -> str:
        """What a comparison between the groups rests on, in words."""
        return ASSUMPTIONS[self.kind]

    def block_codes(self, n_units: int | None = None) -> np.ndarray:
        """Integer block code of each unit (0, 1, … in sorted order of the block labels)."""
        if self.blocks is None:
            if n_units is None:
                raise DesignError("the design has no blocks; give the number of units")
            return np.zeros(n_units, dtype=np.int64)
        return np.unique(np.asarray(self.blocks), return_inverse=True)[1].astype(np.int64)

    def require_randomised(self) -> None:
        """Stop unless the design is a lottery (randomisation inference, tests of randomisation)."""
        if not self.randomised:
            raise DesignError(
                f"randomisation inference re-runs a lottery, but this is a {self.kind} design: its groups "
                f"were not formed by lot (it rests on {self.assumption})")

    def permutations(self, rng: np.random.Generator, n: int, n_units: int | None = None) -> np.ndarray:
        """``n`` re-randomisations: row k is a permutation of the units within their blocks.

        Applied to the observed assignment (``assignment[perm[k]]``), each row keeps the number of each
        group in every block, as complete randomisation within blocks does. Units of one block need not be
        contiguous. One uniform key per unit and draw is added to the unit's block code and the keys are
        arg-sorted, so the draws are taken row by row from ``rng`` (draw 1's keys first).

        Examples
        --------
        >>> import numpy as np
        >>> d = Design(blocks=np.array([0, 1, 0, 1]))
        >>> assignment = np.array([1, 1, 0, 0])
        >>> shuffled = assignment[d.permutations(np.random.default_rng(3), 4)]
        >>> shuffled[:, [0, 2]].sum(axis=1).tolist(), shuffled[:, [1, 3]].sum(axis=1).tolist()
        ([1, 1, 1, 1], [1, 1, 1, 1])
        """
        self.require_randomised()
        if n < 0:
            raise DesignError(f"the number of re-randomisations must be ≥ 0; got {n}")
        codes = self.block_codes(n_units).astype(np.float64)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        perm = np.argsort(sorted_codes[None, :] + rng.random((n, len(codes))), axis=1)
        if np.array_equal(order, np.arange(len(codes))):
            return perm
        # positions in block order -> the units sitting there
        out = np.empty_like(perm)
        out[:, order] = order[perm]
        return out
