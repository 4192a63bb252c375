"""The trial config, ``trial.toml``, and its eligibility rules.

Unknown keys are an error: a typo must never silently change a randomisation. Eligibility rules are
``column op value`` strings parsed by a small parser; they are never evaluated as code.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
import math
import re
import tomllib
from dataclasses import dataclass, field
from dataclasses import fields as dataclasses_fields
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from trialeval._validation import check_int, check_open_interval, check_option
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.timeaxis import WEEKS_SINCE_VISITATION
from trialeval.outcomes import DeclaredOutcome, parse_outcomes
from trialeval.io import (
    DATE_FORMAT_KEY,
    CsvDialect,
    DECIMAL_COMMA_RULE,
    check_date_format,
    decimal_comma,
    parse_date,
    row_error,
    sha256_file,
)

if TYPE_CHECKING:
    from trialeval.curves import CurveSettings
    from trialeval.target import TargetSettings

Operator = Literal["==", "!=", ">=", "<=", ">", "<", "in", "not in"]
OPERATORS: tuple[Operator, ...] = ("==", "!=", ">=", "<=", ">", "<", "in", "not in")

#: Contract column names that ``[columns]`` may map the user's names onto.
CONTRACT_COLUMNS = (
    "person_id", "municipality", "arm", "visitation_date", "followup_end", "stratum", "wave",
    "spell_type", "start_date", "end_date", "hours_per_week", "workplace_id",
)

_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "trial": {"name": str, "seed": int, "treatment_share": (float, int), "design": str, "groups": list,
              "reference": str},
    "eligibility": {"rules": list, "any_of": list},
    "strata": {"columns": list, "bands": dict},
    "analysis": {
        "extraction_date": (str, datetime.date),
        "weeks": int,
        "pre_weeks": int,
        "min_days": int,
        "outcomes": list,
        "covariates": list,
        "blocks": str,
        "min_weeks": int,
        "summary_weeks": int,
        "hours_week": int,
        "report_weeks": list,
        "spell_types": list,
        "min_matched_share": (float, int),
        "min_cell_size": int,
        "drop_exclusions": bool,
        "by": str,
        "subgroups": list,
        "alpha": float,
        "lang": str,
        "labels": dict,
        "axis": str,
        "period_from": str,
        "period_to": str,
    },
    "columns": {**{name: str for name in CONTRACT_COLUMNS}, DATE_FORMAT_KEY: str, "arm_values": dict,
                "csv_delimiter": str, "csv_decimal": str, "csv_encoding": str,
                "month": str, "hours": str},          # eIndkomst's columns
    "registers": {"dream": dict},
    "matching": {"covariates": list, "exact": list, "history": dict, "method": str, "ratio": int, "replace": bool,
                 "caliper": (float, int), "same_municipalities": bool},
    "target": {"rule": str, "from": str, "to": str, "site_group": str, "site": str, "programme": (str, int, bool),
               "before": (str, list), "after": (str, list), "outcomes": list},     # trialeval.target
    "curves": {"groups": dict, "labels": dict, "outcomes": list},                       # trialeval.curves
}
#: Most weeks since visitation (and before it) a panel is built for: 20 years. More is a typing error,
#: and a panel of millions of persons over it would not fit in memory.
MAX_WEEKS = 1040
#: Allowed ranges of the whole-number keys of ``[analysis]``.
_ANALYSIS_RANGES = {"weeks": (1, MAX_WEEKS), "pre_weeks": (0, MAX_WEEKS), "min_days": (1, 7),
                    "min_weeks": (1, MAX_WEEKS), "summary_weeks": (1, MAX_WEEKS), "hours_week": (1, MAX_WEEKS),
                    "min_cell_size": (0, 10**9)}
#: Largest seed: numpy seeds with non-negative integers; 2**63 - 1 keeps every seed a 64-bit integer.
MAX_SEED = 2**63 - 1
#: Precision at which the draw uses the treatment share (a fraction with denominator at most this).
SHARE_DENOMINATOR = 10**6
_REQUIRED = {"trial": ("seed", "treatment_share")}

_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|not\s+in\b|in\b)\s*(.+?)\s*$")


@dataclass(frozen=True)
class EligibilityRule:
    """One ``column op value`` rule; :meth:`holds` gives the rows that satisfy it.

    Examples
    --------
    >>> import pandas as pd
    >>> rule = EligibilityRule.parse("age >= 30")
    >>> rule.holds(pd.DataFrame({"age": [25, 30, None]}), "pop.csv").tolist()
    [False, True, False]
    >>> EligibilityRule.parse('education in ["basic", "upper"]').value
    ['basic', 'upper']
    """

    column: str
    op: Operator
    value: Any
    text: str

    @classmethod
    def parse(cls, text: str) -> EligibilityRule:
        if not isinstance(text, str):
            raise ConfigError(f"eligibility rule {text!r} must be a string 'column op value'")
        match = _RULE.match(text)
        if match is None:
            raise ConfigError(
                f"eligibility rule {text!r} is not 'column op value' with op one of "
                + ", ".join(OPERATORS)
            )
        column, op, raw = match.groups()
        op = " ".join(op.split())
        value = _parse_value(raw, text)
        if op in ("in", "not in") and not isinstance(value, list):
            raise ConfigError(f"eligibility rule {text!r}: '{op}' needs a list, e.g. [\"a\", \"b\"]")
        if op in (">=", "<=", ">", "<") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigError(f"eligibility rule {text!r}: '{op}' needs a number")
        return cls(column=column, op=op, value=value, text=text.strip())  # type: ignore[arg-type]

    def holds(self, df: pd.DataFrame, source: str) -> pd.Series:
        """Boolean mask of rows meeting the rule; a missing value never meets it."""
        if self.column not in df.columns:
            raise InputDataError(
                f"{source}: eligibility rule '{self.text}' names column '{self.column}', which is missing"
            )
        col = df[self.column]
        present = col.notna().to_numpy()
        if self.op in ("in", "not in"):
            members = {_normalise(v) for v in self.value}
            inside = col.map(_normalise).isin(members).to_numpy()
            result = inside if self.op == "in" else ~inside
        elif isinstance(self.value, bool):
            truth = col.map(_as_bool)
            bad = col.notna() & truth.isna()
            if bad.any():
                raise row_error(source, self.column, f"is not a boolean (rule '{self.text}')", bad)
            result = (truth == self.value).to_numpy() if self.op == "==" else (truth != self.value).to_numpy()
        elif isinstance(self.value, (int, float)):
            numbers = pd.to_numeric(col, errors="coerce")
            bad = col.notna() & numbers.isna()
            if bad.any():
                comma = decimal_comma(col)
                if comma.any():
                    raise row_error(source, self.column, f"{DECIMAL_COMMA_RULE} (rule '{self.text}')", comma)
                raise row_error(source, self.column, f"is not numeric (rule '{self.text}')", bad)
            result = _compare(numbers.to_numpy(dtype=float), self.op, float(self.value))
        else:
            text = col.astype(object).map(lambda v: None if v is None or v is pd.NA else str(v))
            if self.op not in ("==", "!="):
                raise ConfigError(f"eligibility rule '{self.text}': '{self.op}' needs a number")
            equal = (text == str(self.value)).to_numpy()
            result = equal if self.op == "==" else ~equal
        return pd.Series(np.asarray(result, dtype=bool) & present, index=df.index)


def _compare(x: np.ndarray, op: str, v: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return {"==": x == v, "!=": x != v, ">=": x >= v, "<=": x <= v, ">": x > v, "<": x < v}[op]


def _normalise(v: Any) -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v) if not (isinstance(v, float) and math.isnan(v)) else None
    return None if v is None else str(v)


def _as_bool(v: Any) -> bool | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return {"true": True, "1": True, "1.0": True, "yes": True,
            "false": False, "0": False, "0.0": False, "no": False}.get(str(v).strip().lower())


def _parse_value(raw: str, text: str) -> Any:
    """A rule's value as a TOML value (number, true/false, "string", [list]); a bare word is a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", raw):
            return raw
        raise ConfigError(f"eligibility rule {text!r}: cannot read the value {raw!r}") from None


def apply_eligibility(
    population: pd.DataFrame, rules: tuple[EligibilityRule, ...], source: str,
    groups: Sequence[Sequence[EligibilityRule]] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply every rule in order; return the eligible rows and how many each rule removed.

    With ``groups`` (``[eligibility] any_of``), a person must also meet every rule of at least one group.
    The report then shows, for each group, what its rules removed in turn from the persons left by
    ``rules`` (``group`` 1, 2, …), and last how many met no group (``rule`` = ``any_of``).

    Examples
    --------
    >>> import pandas as pd
    >>> pop = pd.DataFrame({"age": [25, 35, 45], "ready": [True, False, True]})
    >>> rules = (EligibilityRule.parse("age >= 30"), EligibilityRule.parse("ready == true"))
    >>> eligible, report = apply_eligibility(pop, rules, "pop.csv")
    >>> report["removed"].tolist(), len(eligible)
    ([1, 1], 1)
    >>> pop = pd.DataFrame({"age": [25, 35, 45, 50], "ready": [True, False, True, False],
    ...                     "resource": [False, True, False, False]})
    >>> groups = [(EligibilityRule.parse("resource == true"),), (EligibilityRule.parse("ready == true"),)]
    >>> eligible, report = apply_eligibility(pop, rules[:1], "pop.csv", groups)
    >>> eligible["age"].tolist(), report.to_dict("records")[-1]
    ([35, 45], {'rule': 'any_of', 'group': 0, 'removed': 1, 'remaining': 2})
    """
    keep = pd.Series(True, index=population.index)
    rows = []
    for rule in rules:
        holds = rule.holds(population, source)
        removed = int((keep & ~holds).sum())
        keep &= holds
        rows.append({"rule": rule.text, "removed": removed, "remaining": int(keep.sum())})
    if not groups:
        return population.loc[keep], pd.DataFrame(rows, columns=["rule", "removed", "remaining"])
    for row in rows:
        row["group"] = 0
    any_group = pd.Series(False, index=population.index)
    for g, group in enumerate(groups, start=1):
        in_group = keep.copy()
        for rule in group:
            holds = rule.holds(population, source)
            removed = int((in_group & ~holds).sum())
            in_group &= holds
            rows.append({"rule": rule.text, "group": g, "removed": removed, "remaining": int(in_group.sum())})
        any_group |= in_group
    rows.append({"rule": "any_of", "group": 0, "removed": int((keep & ~any_group).sum()),
                 "remaining": int((keep & any_group).sum())})
    keep &= any_group
    return population.loc[keep], pd.DataFrame(rows, columns=["rule", "group", "removed", "remaining"])


@dataclass(frozen=True)
class TrialConfig:
    """A validated ``trial.toml``.

    Examples
    --------
    >>> cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5},
    ...                              "eligibility": {"rules": ["age >= 30"]}})
    >>> cfg.rules[0].column, cfg.treatment_share
    ('age', 0.5)
    """

    seed: int
    treatment_share: float
    name: str = "trial"
    rules: tuple[EligibilityRule, ...] = ()
    rule_groups: tuple[tuple[EligibilityRule, ...], ...] = ()
    strata_columns: tuple[str, ...] = ()
    bands: dict[str, tuple[float, ...]] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    registers: dict[str, Any] = field(default_factory=dict)
    matching: dict[str, Any] = field(default_factory=dict)
    declared_outcomes: tuple[DeclaredOutcome, ...] = ()
    source: str = "trial.toml"
    sha256: str = ""
    design: str = "randomised"
    groups: tuple[str, ...] = ("treatment", "control")
    reference: str = "control"
    target: TargetSettings | None = None
    curves: CurveSettings | None = None

    def __post_init__(self) -> None:
        check_design(self.seed, self.treatment_share)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "trial.toml", sha256: str = "") -> TrialConfig:
        for section, body in data.items():
            if section not in _SCHEMA and section != "outcomes":
                raise ConfigError(f"{source}: unknown section [{section}]; allowed: "
                                  f"{', '.join([*_SCHEMA, 'outcomes'])}")
            if not isinstance(body, dict):
                raise ConfigError(f"{source}: '{section}' must be a table [{section}]")
            if section == "outcomes":           # one sub-table per declared outcome, read below
                continue
            for key, value in body.items():
                if key not in _SCHEMA[section]:
                    raise ConfigError(
                        f"{source}: unknown key '{key}' in [{section}]; allowed: {', '.join(_SCHEMA[section])}"
                    )
                expected = _SCHEMA[section][key]
                if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
                    raise ConfigError(f"{source}: [{section}] {key} has the wrong type ({type(value).__name__})")
        for section, keys in _REQUIRED.items():
            for key in keys:
                if key not in data.get(section, {}):
                    raise ConfigError(f"{source}: [{section}] {key} is required")
        trial = data["trial"]
        share = float(trial["treatment_share"])
        try:
            check_design(trial["seed"], share)
        except ConfigError as exc:
            raise ConfigError(f"{source}: [trial] {exc}") from None
        kind, groups, reference = _trial_design(trial, source, share)
        columns_table = dict(data.get("columns", {}))
        if "arm_values" in columns_table:
            groups, reference = _arm_values(columns_table.pop("arm_values"), groups, source)
        strata = data.get("strata", {})
        columns = tuple(strata.get("columns", ()))
        if not all(isinstance(c, str) for c in columns):
            raise ConfigError(f"{source}: [strata] columns must be a list of column names")
        bands: dict[str, tuple[float, ...]] = {}
        for col, edges in strata.get("bands", {}).items():
            if (not isinstance(edges, list) or not edges
                    or not all(isinstance(e, (int, float)) and not isinstance(e, bool) for e in edges)
                    or any(b <= a for a, b in zip(edges, edges[1:]))):
                raise ConfigError(f"{source}: [strata] bands.{col} must be an increasing list of numbers")
            bands[col] = tuple(float(e) for e in edges)
        analysis = dict(data.get("analysis", {}))
        if "extraction_date" in analysis:
            if isinstance(analysis["extraction_date"], datetime.datetime):    # a TOML date-time
                raise ConfigError(f"{source}: [analysis] extraction_date is a date and time; "
                                  "give a date YYYY-MM-DD")
            try:
                analysis["extraction_date"] = parse_date(analysis["extraction_date"],
                                                         f"{source}: [analysis] extraction_date")
            except InputDataError as exc:
                raise ConfigError(str(exc)) from None
        where = f"{source}: [analysis]"
        for key, (low, high) in _ANALYSIS_RANGES.items():
            if key == "min_days" and "month" in str(analysis.get("axis", "")):
                high = 28                   # days of the shortest month
            if analysis.get(key) is not None:
                check_int(key, analysis[key], low, high, where=where, error=ConfigError)
        if "axis" in analysis:
            from trialeval.timeaxis import TimeAxis

            try:
                TimeAxis.from_name(analysis["axis"])
            except InputDataError as exc:
                raise ConfigError(f"{where} axis: {exc}") from None
        if "alpha" in analysis:
            check_open_interval("alpha", analysis["alpha"], 0, 1, where=where, error=ConfigError)
        if "report_weeks" in analysis:
            check_option("report_weeks", analysis["report_weeks"], all(
                isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WEEKS
                for w in analysis["report_weeks"]), f"whole weeks from 1 to {MAX_WEEKS}", where=where,
                error=ConfigError)
        if "lang" in analysis:
            from trialeval._figure_options import check_lang

            try:
                check_lang(analysis["lang"], f"{source}: [analysis] lang")
            except InputDataError as exc:
                raise ConfigError(str(exc)) from None
        try:
            CsvDialect.of(data.get("columns", {}), f"{source}: [columns]")
        except InputDataError as exc:
            raise ConfigError(str(exc)) from None
        if DATE_FORMAT_KEY in data.get("columns", {}):
            try:
                check_date_format(data["columns"][DATE_FORMAT_KEY], f"{source}: [columns] {DATE_FORMAT_KEY}")
            except InputDataError as exc:
                raise ConfigError(str(exc)) from None
        return cls(
            seed=int(trial["seed"]),
            treatment_share=share,
            name=str(trial.get("name", "trial")),
            rules=tuple(EligibilityRule.parse(r) for r in data.get("eligibility", {}).get("rules", ())),
            rule_groups=_rule_groups(data.get("eligibility", {}).get("any_of", []), source),
            strata_columns=columns,
            bands=bands,
            analysis=analysis,
            columns=columns_table,
            registers=_registers(data.get("registers", {}), source),
            matching=dict(data.get("matching", {})),
            declared_outcomes=parse_outcomes(data.get("outcomes", {}), source),
            source=source,
            sha256=sha256,
            design=kind,
            groups=groups,
            reference=reference,
            **_target_and_curves(data, source, columns_table),
        )


def _target_and_curves(data: dict[str, Any], source: str, columns: dict[str, Any]) -> dict[str, Any]:
    """``[target]`` and ``[curves]``, checked now (:mod:`trialeval.target`, :mod:`trialeval.curves`)."""
    from trialeval.curves import CurveSettings
    from trialeval.target import TargetSettings

    return {"target": TargetSettings.from_dict(data["target"], source, columns) if "target" in data else None,
            "curves": CurveSettings.from_dict(data["curves"], source) if "curves" in data else None}


def _registers(table: dict[str, Any], source: str) -> dict[str, Any]:
    """``[registers]``: the DREAM code map, checked now so a bad map is a config error at once."""
    from trialeval.registers import DreamCodes

    return {name: DreamCodes.from_dict(body, f"{source}: [registers.{name}]") for name, body in table.items()}


def _rule_groups(groups: list[Any], source: str) -> tuple[tuple[EligibilityRule, ...], ...]:
    """``[eligibility] any_of``: groups of rules of which one must hold."""
    if not all(isinstance(g, list) and g and all(isinstance(r, str) for r in g) for g in groups):
        raise ConfigError(f"{source}: [eligibility] any_of must be a list of groups, each a non-empty list of "
                          "rules, e.g. any_of = [[\"age >= 30\", \"resource == true\"], [\"age >= 30\"]]")
    return tuple(tuple(EligibilityRule.parse(r) for r in g) for g in groups)


def _trial_design(trial: dict[str, Any], source: str, share: float = 0.5) -> tuple[str, tuple[str, ...], str]:
    """``[trial] design``, ``groups`` and ``reference``, checked: a known kind, two distinct non-empty
    labels (the programme group first) and a reference among them (default: the last group). A share of 1
    is a selection (everyone drawn in the programme group), and a selection has a share of 1."""
    from trialeval.design import DEFAULT_GROUPS, DESIGN_KINDS

    kind = trial.get("design", "selection" if share == 1 else "randomised")
    if (share == 1) != (kind == "selection") and kind != "comparison":
        raise ConfigError(f"{source}: [trial] treatment_share = 1 draws everyone into the programme group: that is "
                          "design = \"selection\" (a lottery needs a share below 1)" if share == 1 else
                          f"{source}: [trial] design = \"selection\" draws everyone into the programme group: "
                          "give treatment_share = 1")
    if kind not in DESIGN_KINDS:
        raise ConfigError(f"{source}: [trial] design must be one of {', '.join(map(repr, DESIGN_KINDS))}; "
                          f"got {kind!r}")
    groups = trial.get("groups", list(DEFAULT_GROUPS))
    if (len(groups) != 2 or not all(isinstance(g, str) and g.strip() and g.strip() == g for g in groups)
            or groups[0] == groups[1]):
        raise ConfigError(f"{source}: [trial] groups must be two distinct, non-empty labels without "
                          f"surrounding blanks, the programme group first, e.g. [\"treatment\", \"control\"]; "
                          f"got {groups!r}")
    reference = trial.get("reference", groups[-1])
    if reference != groups[-1]:
        raise ConfigError(f"{source}: [trial] reference must be the last of [trial] groups ({groups[-1]!r}; "
                          f"the programme group comes first); got {reference!r}")
    return str(kind), tuple(groups), str(reference)


def _arm_values(values: dict[str, Any], groups: tuple[str, ...], source: str) -> tuple[tuple[str, ...], str]:
    """``[columns] arm_values = {indsats = "treatment", kontrol = "control"}``: the labels the files hold for
    the design's groups. The design then uses the files' labels, in the design's order (programme group
    first), so ledgers with them are read as they are and outputs show them."""
    where = f"{source}: [columns] arm_values"
    if (len(values) != 2 or not all(isinstance(k, str) and k.strip() == k and k for k in values)
            or sorted(map(str, values.values())) != sorted(groups)):
        raise ConfigError(f"{where} must map the two labels your files hold to the groups "
                          f"{' and '.join(map(repr, groups))}, e.g. {{ indsats = {groups[0]!r}, kontrol = "
                          f"{groups[1]!r} }}; got {values!r}".replace("'", '"'))
    by_group = {group: label for label, group in values.items()}
    labels = tuple(by_group[g] for g in groups)
    return labels, labels[-1]


def check_design(seed: Any, share: Any) -> None:
    """A seed is a whole number ``0 <= seed < 2**63``; a treatment share is in (0, 1) and stays so at the
    draw's precision (a fraction with denominator at most one million), so neither arm is empty by design —
    or exactly 1: a selection, where everyone drawn is in the programme group.

    Examples
    --------
    >>> check_design(20160301, 0.5)
    >>> check_design(1, 0.0000001)
    Traceback (most recent call last):
    ...
    trialeval.exceptions.ConfigError: treatment_share 1e-07 rounds to 0 at the draw's precision (1/1000000); it must be in (0, 1)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be a whole number; got {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed must be a whole number from 0 to {MAX_SEED}; got {seed}")
    if isinstance(share, bool) or not isinstance(share, (int, float, np.integer, np.floating)) or not (
            0 < share <= 1):
        raise ConfigError(f"treatment_share must be in (0, 1); got {share!r} (or exactly 1: a selection, "
                          "everyone drawn in the programme group)")
    if share == 1:
        return
    exact = Fraction(float(share)).limit_denominator(SHARE_DENOMINATOR)   # as trialeval.draw.design_fraction
    if not 0 < exact < 1:
        raise ConfigError(f"treatment_share {share!r} rounds to {int(exact)} at the draw's precision "
                          f"(1/{SHARE_DENOMINATOR}); it must be in (0, 1)")


def load_config(path: str | Path) -> TrialConfig:
    """Read and validate ``trial.toml``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "trial.toml"
    >>> _ = p.write_text("[trial]\\nseed = 7\\ntreatment_share = 0.5\\n")
    >>> load_config(p).seed
    7
    """
    path = Path(path)
    return TrialConfig.from_dict(read_toml(path, "config"), source=str(path), sha256=sha256_file(path))


def read_toml(path: str | Path, kind: str) -> dict[str, Any]:
    """Parse a TOML file, naming the file and what it is (``config``, ``scenario``) when it fails."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: {kind} file not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


#: Weeks since visitation a panel is built for when neither the config nor the command says.
DEFAULT_WEEKS = WEEKS_SINCE_VISITATION.periods_per_year
#: Weeks shown in the report's effect table when neither the config nor the command says.
DEFAULT_REPORT_WEEKS = (13, 26, 35, 52)
#: ``[analysis]`` keys whose setting has another name (the config's name is kept for compatibility).
_SETTING_NAMES = {"min_cell_size": "min_cell"}


@dataclass(frozen=True)
class AnalysisSettings:
    """The analysis settings of a run: ``[analysis]`` of ``trial.toml`` merged with the command's options.

    Build it with :meth:`from_config`, the one place where defaults are applied. ``weeks=None`` means
    "not set": the panel builds :data:`DEFAULT_WEEKS` (:attr:`panel_weeks`) and the effects report every
    week the panel holds. ``seed`` is the trial's seed unless an option overrides it.

    Examples
    --------
    >>> cfg = TrialConfig.from_dict({"trial": {"seed": 3, "treatment_share": 0.5},
    ...                              "analysis": {"weeks": 26, "min_cell_size": 10}})
    >>> s = AnalysisSettings.from_config(cfg, min_cell=None, lang="da")
    >>> s.weeks, s.min_cell, s.lang, s.seed, s.pre_weeks
    (26, 10, 'da', 3, 0)
    >>> AnalysisSettings.from_config(None).panel_weeks
    52
    """

    extraction_date: pd.Timestamp | None = None
    weeks: int | None = None
    pre_weeks: int = 0
    min_days: int = 1
    outcomes: tuple[str, ...] | None = None
    covariates: tuple[str, ...] | None = None
    blocks: str | None = None
    min_weeks: int | None = None
    summary_weeks: int | None = None
    hours_week: int | None = None
    report_weeks: tuple[int, ...] = DEFAULT_REPORT_WEEKS
    spell_types: tuple[str, ...] | None = None
    min_matched_share: float | None = None
    min_cell: int = 5
    drop_exclusions: bool = False
    alpha: float = 0.05
    lang: str = "en"
    seed: int | None = None
    columns: dict[str, str] = field(default_factory=dict)
    declared_outcomes: tuple[DeclaredOutcome, ...] = ()
    by: str | None = None
    subgroups: tuple[str, ...] | None = None
    axis: str = WEEKS_SINCE_VISITATION.name
    period_from: str | None = None
    period_to: str | None = None

    @classmethod
    def from_config(cls, config: TrialConfig | None, **overrides: Any) -> AnalysisSettings:
        """Defaults, then ``[analysis]`` of ``config`` (if any), then the ``overrides`` that are not None.

        Parameters
        ----------
        config
            The trial config, or None when the command was given none.
        **overrides
            Settings by name (``weeks=``, ``min_cell=``, ``seed=``…); None means "not given".
        """
        from trialeval.disclosure import DEFAULT_MIN_CELL
        from trialeval.panel import MIN_MATCHED_SHARE

        names = {f.name for f in dataclasses_fields(cls)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown analysis settings: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"min_cell": DEFAULT_MIN_CELL, "min_matched_share": MIN_MATCHED_SHARE}
        if config is not None:
            values["seed"] = config.seed
            values["columns"] = dict(config.columns)
            values["declared_outcomes"] = config.declared_outcomes
            for key, value in config.analysis.items():
                values[_SETTING_NAMES.get(key, key)] = value
        values.update({key: value for key, value in overrides.items() if value is not None})
        for key in ("outcomes", "covariates", "spell_types", "report_weeks", "subgroups"):
            if values.get(key) is not None:
                values[key] = (values[key],) if isinstance(values[key], str) else tuple(values[key])
        return cls(**values)

    @property
    def panel_weeks(self) -> int:
        """Periods the panel is built for: the setting, else a year (:data:`DEFAULT_WEEKS` weeks, or 12 on a
        month axis)."""
        from trialeval.timeaxis import TimeAxis

        return self.weeks if self.weeks is not None else TimeAxis.from_name(self.axis).periods_per_year
