"""Pipeline steps of the results by site and subgroup and of the regressions that explain them.

``trialeval effects --by/--subgroups`` (:func:`effects_by_site`, :func:`effects_from_spells_by_site`,
:func:`by_site`), ``trialeval explain`` (:func:`explain`) and ``trialeval explain --person``
(:func:`explain_person`). Re-exported by :mod:`trialeval.pipeline`, the command line's one entry.

Files written beside ``--out`` (``effects.csv`` gives ``effects_sites.csv`` …): ``_sites`` (the effect
per site and week, with the pooled and random-effects rows), ``_heterogeneity`` (Q, I², τ², the
DerSimonian–Laird estimate and the spread), ``_subgroups`` and ``_interactions``; with ``--plot
effects.png`` a caterpillar plot ``effects_sites_<outcome>.png`` and a forest plot
``effects_subgroups_<outcome>.png`` per outcome at the last week.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trialeval import layout
from trialeval._validation import OptionError
from trialeval.config import AnalysisSettings, TrialConfig, load_config
from trialeval.disclosure import write_export
from trialeval.exceptions import InputDataError
from trialeval.io import check_outputs, read_table, require_columns

if TYPE_CHECKING:
    from trialeval.effects import EffectsResult
    from trialeval.explain import Regression
    from trialeval.pipeline import PathLike, Step

SITE_PARTS = ("sites", "heterogeneity")
SUBGROUP_PARTS = ("subgroups", "interactions")


def site_outputs(out: PathLike, plot: PathLike | None, *, by: str | None, subgroups: Sequence[str],
                 outcomes: Sequence[str] = ()) -> dict[str, Path]:
    """The files :func:`by_site` writes beside ``out`` (and ``plot``): part name to path."""
    out = Path(out)
    parts = (SITE_PARTS if by else ()) + (SUBGROUP_PARTS if subgroups else ())
    paths = {name: out.with_name(f"{out.stem}_{name}.csv") for name in parts}
    if plot is not None:
        base = Path(plot)
        for kind in (["sites"] if by else []) + (["subgroups"] if subgroups else []):
            paths.update({f"{kind}_{o}": base.with_name(f"{base.stem}_{kind}_{o}.png") for o in outcomes})
    return paths


@dataclass(frozen=True, eq=False)
class SiteResults:
    """The results by site and by subgroup of one run, for the console."""

    sites: list[Any] = field(default_factory=list)
    subgroups: list[Any] = field(default_factory=list)
    effects: EffectsResult | None = None

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self, lang: str = "en") -> str:
        from trialeval._console import summary

        parts = [summary(self.effects, lang)] if self.effects is not None else []
        weeks = sorted({r.period for r in self.sites + self.subgroups})
        last = weeks[-1] if weeks else None
        parts += [summary(r, lang) for r in self.sites + self.subgroups if r.period == last]
        return "\n".join(parts)


def site_options(config: PathLike | None, by: str | None, subgroups: Sequence[str] | None) -> dict[str, Any]:
    """``by`` and ``subgroups`` as given, else ``[analysis] by`` and ``subgroups`` of the config."""
    from trialeval.config import AnalysisSettings

    settings = AnalysisSettings.from_config(_cfg(config), by=by, subgroups=list(subgroups) if subgroups else None)
    return {"by": settings.by, "subgroups": list(settings.subgroups or [])}


def _cfg(config: PathLike | None) -> TrialConfig | None:
    return load_config(Path(config)) if config is not None else None


def _site_data(panel: PathLike, columns: Sequence[str], ledger: PathLike | None, cfg: TrialConfig | None
               ) -> pd.DataFrame:
    """The panel with the columns of ``columns`` it lacks taken from ``ledger`` (one row per person)."""
    rename = cfg.columns if cfg is not None else None
    data = read_table(panel, rename=rename)
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        if ledger is None:
            raise InputDataError(f"{panel}: no column(s) {', '.join(missing)}; give --ledger to take them from it")
        people = read_table(ledger, rename=rename)
        require_columns(people, ["person_id", *missing], str(ledger))
        people = people[["person_id", *missing]].drop_duplicates("person_id")
        data = data.merge(people.assign(person_id=people["person_id"].astype(data["person_id"].dtype)),
                          on="person_id", how="left")
    return _standard_arms(data, cfg, str(panel))


def _matched_sites(data: pd.DataFrame, matches: PathLike, by: str | None, source: str) -> pd.DataFrame:
    """A matched comparison design: the panel with ``match_id`` and ``weight`` of the matched ledger, and
    each matched set in the site (``by``) of its programme person, so that a site's result compares its
    programme persons with their own matches (the comparison persons may live elsewhere)."""
    from trialeval._pipeline_comparison import join_matches

    data = join_matches(data, matches, source) if "match_id" not in data.columns else data
    if by:
        programme = data.loc[data["arm"] == "treatment"].drop_duplicates("match_id")
        site = data["match_id"].map(programme.set_index("match_id")[by])
        data = data.assign(**{by: site.astype(object).where(site.notna(), None)}).dropna(subset=[by])
    return data


def _standard_arms(data: pd.DataFrame, cfg: TrialConfig | None, source: str) -> pd.DataFrame:
    """The panel with its groups as ``treatment`` (the programme group) and ``control`` (the reference
    group), whatever labels the design gives them (``[trial] groups``, ``[columns] arm_values``)."""
    from trialeval.design import Design

    labels = Design.from_config(cfg).labels if cfg is not None else ("treatment", "control")
    if "arm" not in data.columns or labels == ("treatment", "control"):
        return data
    arm = data["arm"].astype(str)
    unknown = sorted(set(arm.unique()) - set(labels))
    if unknown:
        raise InputDataError(f"{source}: column 'arm' holds {', '.join(map(repr, unknown[:5]))}, not the design's "
                             f"groups {labels[0]!r} and {labels[1]!r}")
    return data.assign(arm=np.where(arm == labels[0], "treatment", "control"))


def _compute(data: pd.DataFrame, by: str | None, subgroups: Sequence[str], names: Sequence[str],
             weeks: Sequence[int], min_cell: int, source: str) -> dict[str, Any]:
    from trialeval.sites import sites_tables, subgroup_tables
    out: dict[str, Any] = {}
    if by:
        out["sites"] = sites_tables(data, by, names, weeks, min_cell=min_cell, source=source)
    if subgroups:
        out["subgroups"] = subgroup_tables(data, list(subgroups), names, weeks, min_cell=min_cell, source=source)
    return out


def _write(computed: dict[str, Any], targets: dict[str, Path], lang: str, n_weeks: int) -> list[Path]:
    from trialeval.plots import save_figure
    written: list[Path] = []
    for kind, parts in (("sites", SITE_PARTS), ("subgroups", SUBGROUP_PARTS)):
        if kind not in computed:
            continue
        rows, second, results = computed[kind]
        written += [write_export(rows, targets[parts[0]]), write_export(second, targets[parts[1]])]
        for r in results[n_weeks - 1::n_weeks]:             # the last week of each outcome
            if f"{kind}_{r.outcome}" in targets:
                written.append(save_figure(r.plot(lang=lang), targets[f"{kind}_{r.outcome}"], lang=lang))
    return written


def _prepare(panel: PathLike, out: PathLike, *, by: str | None, subgroups: Sequence[str],
             outcomes: Sequence[str] | None, weeks: Sequence[int] | None, ledger: PathLike | None,
             config: PathLike | None, plot: PathLike | None, lang: str | None, min_cell: int | None,
             inputs: Sequence[tuple[str, PathLike | None]], matches: PathLike | None = None
             ) -> tuple[dict[str, Any], dict[str, Path], str, int]:
    """Check the outputs, read the rows and compute every table: nothing is written yet."""
    if not by and not subgroups:
        raise OptionError("give --by or --subgroups", option="--by")
    cfg = _cfg(config)
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    check_outputs([("--out", p) for p in site_outputs(out, None, by=by, subgroups=subgroups).values()], inputs)
    data = _site_data(panel, [*([by] if by else []), *subgroups], ledger, cfg)
    if matches is not None:
        data = _matched_sites(data, matches, by, str(panel))
    names = list(outcomes) if outcomes else [o for o in (settings.outcomes or ()) if o in data.columns]
    if not names:
        raise OptionError("give --outcomes (or [analysis] outcomes in the config)", option="--outcomes")
    period = "week"
    require_columns(data, [period], str(panel))
    present = set(pd.unique(data[period]))
    chosen = [int(w) for w in weeks] if weeks else [int(w) for w in settings.report_weeks if w in present]
    if not chosen:
        raise InputDataError(f"{panel}: none of the report weeks {', '.join(map(str, settings.report_weeks))} "
                             "is in the panel; set [analysis] report_weeks")
    targets = site_outputs(out, plot, by=by, subgroups=subgroups, outcomes=names)
    check_outputs([("--plot", p) for k, p in targets.items() if k not in SITE_PARTS + SUBGROUP_PARTS], inputs)
    computed = _compute(data, by, subgroups, names, chosen, settings.min_cell, str(panel))
    return computed, targets, settings.lang, len(chosen)


def by_site(panel: PathLike, out: PathLike, *, by: str | None = None, subgroups: Sequence[str] = (),
            outcomes: Sequence[str] | None = None, weeks: Sequence[int] | None = None,
            ledger: PathLike | None = None, config: PathLike | None = None, plot: PathLike | None = None,
            lang: str | None = None, min_cell: int | None = None, matches: PathLike | None = None
            ) -> Step[list[Any]]:
    """Effects per site (``by``) and per subgroup of ``subgroups`` at the report weeks, written beside
    ``out``: ``<out>_sites.csv`` and ``<out>_heterogeneity.csv``; ``<out>_subgroups.csv`` and
    ``<out>_interactions.csv``; a caterpillar and a forest plot per outcome at the last week with ``plot``.
    Subgroup columns missing from the panel come from ``ledger`` (one row per person). With ``matches``
    (a matched comparison design's ledger) each site's result is the weighted difference with CR2 SEs by
    matched set, each matched set counted in its programme person's site."""
    from trialeval.pipeline import Step
    inputs = [("--panel", panel), ("--ledger", ledger), ("--config", config), ("--matches", matches)]
    computed, targets, lang_, n_weeks = _prepare(panel, out, by=by, subgroups=subgroups, outcomes=outcomes,
                                                 weeks=weeks, ledger=ledger, config=config, plot=plot, lang=lang,
                                                 min_cell=min_cell, inputs=inputs, matches=matches)
    results = [r for kind in ("sites", "subgroups") if kind in computed for r in computed[kind][2]]
    return Step(results, tuple(_write(computed, targets, lang_, n_weeks)), lang_)


def effects_by_site(panel: PathLike, out: PathLike, *, by: str | None, subgroups: Sequence[str],
                    ledger: PathLike | None = None, site_weeks: Sequence[int] | None = None,
                    **options: Any) -> Step[SiteResults]:
    """:func:`~trialeval.pipeline.effects` on ``panel`` and, beside its ``out``, :func:`by_site`'s tables.

    The site and subgroup tables are computed (and the options checked) before anything is written;
    they are taken at ``site_weeks`` (default the report weeks the panel has) for the effects' outcomes.
    """
    from trialeval.pipeline import Step, effects
    computed, targets, lang, n_weeks = _prepare(
        panel, out, by=by, subgroups=subgroups, outcomes=options.get("outcomes"), weeks=site_weeks, ledger=ledger,
        config=options.get("config"), plot=options.get("plot"), lang=options.get("lang"),
        min_cell=options.get("min_cell"), inputs=[("--panel", panel), ("--ledger", ledger),
                                                  ("--config", options.get("config"))])
    step = effects(panel, out, **options)
    written = _write(computed, targets, lang, n_weeks)
    return Step(SiteResults(computed.get("sites", (0, 0, []))[2], computed.get("subgroups", (0, 0, []))[2],
                            step.result), step.written + tuple(written), lang)


def effects_from_spells_by_site(ledger: PathLike, spells: PathLike, out: PathLike, *, by: str | None,
                                subgroups: Sequence[str], panel_out: PathLike | None = None,
                                site_weeks: Sequence[int] | None = None, drop_bad_rows: bool = False,
                                **options: Any) -> Step[SiteResults]:
    """:func:`~trialeval.pipeline.effects_from_spells` and the results by site and subgroup: the panel is
    built to ``panel_out`` (else to a temporary file beside ``out``, deleted afterwards), its site and
    subgroup columns taken from the ledger."""
    from trialeval.pipeline import Step, effects_from_spells
    out = Path(out)
    cfg = _cfg(options.get("config"))
    people = read_table(ledger, rename=cfg.columns if cfg is not None else None)
    require_columns(people, [*([by] if by else []), *subgroups], str(ledger))
    inputs = [("--ledger", ledger), ("--spells", spells), ("--config", options.get("config"))]
    rejects = layout.panel_rejects(out) if drop_bad_rows and panel_out is None else None
    check_outputs([("--out", p) for p in site_outputs(out, options.get("plot"), by=by, subgroups=subgroups,
                                                      outcomes=options.get("outcomes") or ()).values()]
                  + [("--out (rejects beside it)", rejects)], inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = None if panel_out is not None else Path(tempfile.mkdtemp(prefix=".trialeval-panel-", dir=out.parent))
    try:
        path = Path(panel_out) if panel_out is not None else Path(folder) / layout.PANEL  # type: ignore[arg-type]
        step = effects_from_spells(ledger, spells, out, panel_out=path, drop_bad_rows=drop_bad_rows, **options)
        kept = tuple(p for p in step.written if folder is None or Path(folder) not in p.parents)
        if rejects is not None and layout.panel_rejects(path).is_file():
            kept += (Path(shutil.move(layout.panel_rejects(path), rejects)),)
        outcomes = options.get("outcomes") or list(dict.fromkeys(step.result.table["outcome"]))
        sites = by_site(path, out, by=by, subgroups=subgroups, outcomes=outcomes, weeks=site_weeks, ledger=ledger,
                        config=options.get("config"), plot=options.get("plot"), lang=options.get("lang"),
                        min_cell=options.get("min_cell"))
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    from trialeval.sites import SiteResult
    return Step(SiteResults([r for r in sites.result if isinstance(r, SiteResult)],
                            [r for r in sites.result if not isinstance(r, SiteResult)], step.result),
                kept + sites.written, sites.lang)


# --------------------------------------------------------------------------------------------------
# explain

def explain(panel: PathLike, site_factors: PathLike, out: PathLike, *, outcome: str, week: int,
            by: str = "municipality", measure: str = "share", from_week: int | None = None,
            factors: Sequence[str] | None = None, weights: str | None = None, config: PathLike | None = None,
            plot: PathLike | None = None, lang: str | None = None, min_cell: int | None = None) -> Step[Regression]:
    """Regress a result per site (share, change or effect at ``week``) on the site factors of a file.

    ``factors`` defaults to every numeric column of ``site_factors`` but ``by``; ``weights`` is ``n``
    (the site's number of persons) or a column of the factors file.
    """
    from trialeval.explain import hc2_regression, site_measure
    from trialeval.pipeline import Step
    from trialeval.plots import save_figure
    cfg = _cfg(config)
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    check_outputs([("--out", out), ("--plot", plot)],
                  [("--panel", panel), ("--site-factors", site_factors), ("--config", config)])
    data = _standard_arms(read_table(panel, rename=cfg.columns if cfg is not None else None), cfg, str(panel))
    table = read_table(site_factors, text_columns=(by,))
    require_columns(table, [by], str(site_factors))
    per_site = site_measure(data, by, outcome, week, measure=measure, from_period=from_week,  # type: ignore[arg-type]
                            min_cell=settings.min_cell, source=str(panel))
    merged = per_site.merge(table.assign(**{by: table[by].astype(str)}), on=by, how="inner")
    unmatched = sorted(set(per_site[by].astype(str)) - set(merged[by]))
    if unmatched:
        raise InputDataError(f"{site_factors}: no row for the site(s) {', '.join(unmatched[:10])} of the panel's "
                             f"column '{by}'")
    chosen = list(factors) if factors else [c for c in table.columns if c != by
                                           and pd.api.types.is_numeric_dtype(table[c])]
    fit = hc2_regression(merged, measure, chosen, weights=weights, source=str(site_factors))
    written = [write_export(fit.export_frame(), out)]
    if plot is not None and len(chosen) == 1:
        written.append(save_figure(fit.plot(lang=settings.lang), plot, lang=settings.lang))
    return Step(fit, tuple(written), settings.lang)


def explain_person(panel: PathLike, out: PathLike, *, outcome: str, week: int, covariates: Sequence[str],
                   ever: bool = False, ledger: PathLike | None = None, config: PathLike | None = None,
                   min_cell: int | None = None) -> Step[Regression]:
    """Who gets there: ``outcome`` at ``week`` (or ever by it) regressed on background covariates, HC2.

    Covariates missing from the panel come from ``ledger``. Terms resting on fewer than ``min_cell``
    persons (with or without the characteristic) are suppressed. The table carries the caveat that
    these are associations, not effects.
    """
    from trialeval.explain import person_regression
    from trialeval.pipeline import Step
    if not covariates:
        raise OptionError("give --covariates: the background columns to regress on", option="--covariates")
    cfg = _cfg(config)
    settings = AnalysisSettings.from_config(cfg, min_cell=min_cell)
    check_outputs([("--out", out)], [("--panel", panel), ("--ledger", ledger), ("--config", config)])
    data = _site_data(panel, list(covariates), ledger, cfg)
    fit = person_regression(data, outcome, week, list(covariates), ever=ever, min_cell=settings.min_cell,
                            source=str(panel))
    return Step(fit, (write_export(fit.export_frame(), out),))
