"""The accuracy benchmark's results as a markdown table and a plot of count error against FPS."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

DIRECTIONS = ("in", "out")
# Cases reported together as well as one by one: what the targets are about.
GROUPS: dict[str, tuple[str, ...]] = {
    "crowded street (MOT16-01 + MOT16-08)": ("MOT1601raw", "MOT1608raw"),
    "PETS S2L1, all three sizes": ("pets-s2l1", "pets-s2l1-x0.5", "pets-s2l1-x0.35"),
}


def weighted_error(runs: Iterable[Mapping[str, Any]]) -> float | None:
    """Σ|counted − true| / Σ true over every line and direction of the runs, in percent."""
    error = truth = 0
    for run in runs:
        for line in run["lines"]:
            for direction in DIRECTIONS:
                true_n = line[direction]["truth"]
                error += abs(line[direction]["counted"] - true_n)
                truth += true_n
    return None if truth == 0 else round(100.0 * error / truth, 1)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _score(tracking: Mapping[str, Any] | None, key: str) -> str:
    if not tracking or tracking.get(key) is None:
        return "–"
    return f"{tracking[key]:.3f}"


def markdown(data: Mapping[str, Any]) -> str:
    """Summary per setting and case, the groups' totals, and the counts per line and direction."""
    runs: Sequence[Mapping[str, Any]] = data["runs"]
    machine = data["machine"]
    out = [
        f"Measured {data['when']} on {machine['cores']} cores, {machine['cpu']}"
        f"{' (quick: short clips)' if data['quick'] else ''}. Count error is "
        "Σ|counted − true| / Σ true over every line and direction; a counted crossing is "
        f"caught when it matches a true one on the same line and direction within "
        f"{data['tolerance_seconds']:g} s. FPS is the whole pipeline's, unpaced, one camera.",
        "",
        "| setting | case | count error | true / counted | caught / missed / spurious "
        "| HOTA | IDF1 | MOTA | FPS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        m = run["matching"]
        out.append(
            f"| {run['setting']} | {run['case']} | **{_pct(run['count_error_pct'])}** "
            f"| {run['truth_total']} / {run['counted_total']} "
            f"| {m['caught']} / {m['missed']} / {m['spurious']} "
            f"| {_score(run['tracking'], 'HOTA')} | {_score(run['tracking'], 'IDF1')} "
            f"| {_score(run['tracking'], 'MOTA')} | {run['fps']:.1f} |"
        )
    group_rows = []
    for setting in dict.fromkeys(r["setting"] for r in runs):
        for group, members in GROUPS.items():
            chosen = [r for r in runs if r["setting"] == setting and r["case"] in members]
            if len(chosen) == len(members):
                group_rows.append(f"| {setting} | {group} | **{_pct(weighted_error(chosen))}** |")
    if group_rows:
        out += ["", "| setting | cases together | count error |", "|---|---|---|", *group_rows]
    out += ["", "Counts per line (true / counted):", "", "| setting | case | line | in | out |"]
    out.append("|---|---|---|---|---|")
    for run in runs:
        for line in run["lines"]:
            cells = [f"{line[d]['truth']} / {line[d]['counted']}" for d in DIRECTIONS]
            where = f"| {run['setting']} | {run['case']} | {line['name']} |"
            out.append(f"{where} {' | '.join(cells)} |")
    for skipped in data.get("skipped", []):
        out.append(f"\nSkipped {skipped['case']}: {skipped['reason']}.")
    return "\n".join(out) + "\n"


def plot(data: Mapping[str, Any], path: Path) -> Path | None:
    """Count error against FPS, a colour per setting, a marker per case (None: no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    runs = [r for r in data["runs"] if r["count_error_pct"] is not None]
    markers = dict(zip(dict.fromkeys(r["case"] for r in runs), "osD^v<>px*", strict=False))
    by_setting: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for run in runs:
        by_setting[run["setting"]].append(run)
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (setting, chosen) in enumerate(by_setting.items()):
        colour = colours[index % len(colours)]
        for run in chosen:
            axes.scatter(run["fps"], run["count_error_pct"], color=colour,
                         marker=markers[run["case"]], s=60)  # fmt: skip
        axes.scatter([], [], color=colour, marker="s", label=setting)
    for case, marker in markers.items():
        axes.scatter([], [], color="grey", marker=marker, label=case)
    axes.set_xlabel("pipeline FPS (one camera, unpaced)")
    axes.set_ylabel("count error, % of true crossings")
    axes.set_title("Count error against speed: lower and further right is better")
    axes.set_ylim(bottom=0)
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
