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
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from trialeval.exceptions import DesignError, EstimationError, InputDataError

if TYPE_CHECKING:  # pragma: no cover
    from trialeval.config import TrialConfig

DesignKind = Literal["randomised", "selection", "comparison"]
DESIGN_KINDS: tuple[DesignKind, ...] = ("randomised", "selection", "comparison")
#: The group labels when none are declared: the programme group first, then the reference group.
DEFAULT_GROUPS: tuple[str, str] = ("treatment", "control")

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
    groups: tuple[str, ...] = DEFAULT_GROUPS
    reference: str = DEFAULT_GROUPS[1]
    share: float | None = 0.5
    blocks: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in DESIGN_KINDS:
            raise DesignError(f"design kind must be one of {', '.join(DESIGN_KINDS)}; got {self.kind!r}")
        if not all(isinstance(g, str) and g.strip() == g and g for g in self.groups):
            raise DesignError(f"group labels must be non-empty text without surrounding blanks; got "
                              f"{', '.join(map(repr, self.groups))}")
        if len(set(self.groups)) != len(self.groups):
            raise DesignError(f"group labels must be distinct; got {', '.join(map(repr, self.groups))}")
        if self.reference not in self.groups and self.kind != "selection":
            raise DesignError(f"the reference group {self.reference!r} is not one of the groups "
                              f"{', '.join(map(repr, self.groups))}")

    @classmethod
    def from_config(cls, config: TrialConfig) -> Design:
        """The design a trial config declares: ``[trial] design``, ``groups``, ``reference`` and the share.

        Examples
        --------
        >>> from trialeval.config import TrialConfig
        >>> cfg = TrialConfig(seed=1, treatment_share=0.5, groups=("indsats", "kontrol"), reference="kontrol")
        >>> d = Design.from_config(cfg)
        >>> d.kind, d.programme, d.reference, d.share
        ('randomised', 'indsats', 'kontrol', 0.5)
        """
        kind = cast(DesignKind, config.design)          # checked when the config was read
        return cls(kind=kind, groups=tuple(config.groups), reference=config.reference,
                   share=config.treatment_share)

    @property
    def programme(self) -> str:
        """The programme group's label (the one group that is not the reference)."""
        return self.labels[0]

    @property
    def labels(self) -> tuple[str, str]:
        """The two group labels in role order: the programme group, then the reference group.

        Tables keep role names for their columns (``mean_treatment`` is the programme group's mean,
        ``mean_control`` the reference group's); these are the labels shown for them.
        """
        others = [g for g in self.groups if g != self.reference]
        if len(self.groups) != 2 or len(others) != 1:
            raise DesignError(f"a design compares two groups, the programme group and the reference group; "
                              f"got groups {', '.join(map(repr, self.groups))} with reference {self.reference!r}")
        return others[0], self.reference

    def label_error(self, source: str, bad: np.ndarray, *, declared: bool = True,
                    column: str = "arm") -> InputDataError:
        """The error for rows whose group label is not one of the design's: file, column, the allowed
        labels and the rows. With ``declared=False`` (no design was given, so the default labels apply)
        it says how other labels are declared.

        Examples
        --------
        >>> import numpy as np
        >>> print(Design().label_error("ledger.csv", np.array([False, True])))
        ledger.csv: column 'arm' must be 'treatment' or 'control' in 1 row (row 2)
        """
        from trialeval.io import row_error

        message = str(row_error(source, column, f"must be {self.labels[0]!r} or {self.labels[1]!r}", bad))
        if not declared:
            message += ("; other group labels must be declared ([trial] groups and reference in the config, "
                        "or a design with those groups)")
        return InputDataError(message)

    def assign(self, blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each unit's group label from a lottery within ``blocks`` (the draw's assignment).

        Complete randomisation within blocks with exact probability :attr:`share` of the programme group
        (:func:`trialeval.wave_design.assign_within_blocks`); the others get the reference label.

        Examples
        --------
        >>> import numpy as np
        >>> d = Design(groups=("programme", "comparison"), reference="comparison", share=0.5)
        >>> sorted(d.assign(np.array(["a"] * 4), np.random.default_rng(1)).tolist())
        ['comparison', 'comparison', 'programme', 'programme']
        """
        from trialeval.wave_design import assign_within_blocks

        if self.kind == "selection":             # everyone drawn is in the programme group: no lottery
            return np.full(len(blocks), self.programme, dtype=object)
        self.require_randomised()
        if self.share is None:
            raise DesignError("a lottery needs the share assigned to the programme group")
        treated = assign_within_blocks(blocks, self.share, rng)
        programme, reference = self.labels
        return np.where(treated, programme, reference).astype(object)

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


def require_unweighted(weight: np.ndarray, source: str) -> None:
    """Stop when a ``weight`` column is not 1 for everyone: the estimators do not use weights yet
    (weighted estimation comes with comparison designs), and ignoring them silently would mislead.

    Examples
    --------
    >>> import numpy as np
    >>> require_unweighted(np.ones(3), "panel.parquet")
    >>> require_unweighted(np.array([1.0, 0.5]), "panel.parquet")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.EstimationError: panel.parquet: column 'weight' is not 1 in 1 row(s); weighted estimation is not available yet (drop the column, or set it to 1, to estimate unweighted)
    """
    differs = ~(np.asarray(weight, dtype=np.float64) == 1.0)
    if differs.any():
        raise EstimationError(f"{source}: column 'weight' is not 1 in {int(differs.sum())} row(s); weighted "
                              "estimation is not available yet (drop the column, or set it to 1, to "
                              "estimate unweighted)")
