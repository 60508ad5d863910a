"""The validation layer every entry point runs before any work (docs/errors.md).

* :func:`check_override_syntax` — each ``key=value`` argument parses with Hydra's own override
  grammar; a value Hydra cannot read (a path with Chinese characters, brackets, a comma) gets one
  line saying how to quote it.
* :func:`compose` — the run's config composed as Hydra will compose it, with Hydra's multi-line
  compose errors (unknown key, wrong type, missing scenario) turned into one line each.
* :func:`replay_memory_problems` — the memory the market replay will need, estimated from the
  array shapes of model/market.py, against the memory this machine has available.

The checks of values live with what they check: typed config dataclasses and
``model.config.number_problems`` (every number finite and not absurd), the dataset and CSV
checks in model/data.py, the HiGHS option check in model/solve.py. All raise a subclass of
:class:`model.errors.UserError`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from model.errors import UserError, one_line

#: Hydra command-line flags that are not overrides (the next argument is their value for some).
_FLAGS_WITH_VALUE = {"-cn", "--config-name", "-cp", "--config-path", "-cd", "--config-dir",
                     "-p", "--package", "-c", "--cfg", "--experimental-rerun"}

#: Arrays the replay holds per region-month beyond the ones model/market.py names (the arrivals
#: pipeline and the temporaries of percentiles and sums), and per scope-month.
_EXTRA_REGION_ARRAYS = 4
_EXTRA_SCOPE_ARRAYS = 3
#: Refuse a replay that needs more than this share of the memory available now.
MEMORY_SHARE_LIMIT = 0.8


def override_args(argv: Sequence[str]) -> list[str]:
    """The ``key=value`` overrides among command-line arguments (flags and their values left
    out)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        out.append(arg)
    return out


def quoting_hint(arg: str) -> str:
    """How to write an override whose value Hydra's grammar cannot read unquoted."""
    key, sep, value = arg.partition("=")
    if not sep:
        return "write it as key=value, e.g. demand.multiplier=0.9"
    value = value.strip("'\"")
    return (f"quote the value for Hydra and the whole argument for the shell: "
            f"'{key}=\"{value}\"' (docs/errors.md, 'Paths')")


def check_override_syntax(argv: Sequence[str]) -> None:
    """Raise UserError, one line per argument, for overrides Hydra's grammar rejects."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    problems = []
    for arg in override_args(argv):
        try:
            parser.parse_overrides([arg])
        except HydraException as exc:
            first = one_line(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
            problems.append(f"override {arg!r} cannot be read ({first}); {quoting_hint(arg)}")
    if problems:
        raise UserError(problems)


def sweep_variants(overrides: Sequence[str]) -> list[list[str]]:
    """For a sweep (``-m``): one list of plain overrides per value of each swept key (the other
    swept keys at their first value), so that every value is composed and checked once before
    the sweep starts (Σ values composes, not the product)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    first = []
    for o in parsed:
        if o.is_sweep_override():
            first.append(f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}")
        else:
            first.append(o.input_line)
    variants = [first]
    for i, o in enumerate(parsed):
        if not o.is_sweep_override():
            continue
        for value in list(o.sweep_string_iterator())[1:]:
            variant = list(first)
            variant[i] = f"{o.get_key_element()}={value}"
            variants.append(variant)
    return variants


def _hydra_message(exc: BaseException) -> str:
    """Hydra's compose error on one line, without its 'HYDRA_FULL_ERROR' advice."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    missing = re.search(r"Could not find '([^'/]+)/([^']+)'", str(exc))
    if missing and any(ln.startswith("Available options") for ln in lines):
        start = next(i for i, ln in enumerate(lines) if ln.startswith("Available options"))
        options = []
        for ln in lines[start + 1:]:
            if ln.startswith("Config search path"):
                break
            options.append(ln)
        group, name = missing.groups()
        return (f"{group} {name!r} does not exist; expected one of: {', '.join(options)} "
                f"(conf/{group}/*.yaml)")
    lines = [ln for ln in lines if not ln.startswith(("full_key:", "object_type=",
                                                      "reference_type=", "Set the environment"))]
    cause = exc.__cause__
    if cause is not None and str(cause).strip() and str(cause).strip() not in lines:
        lines += [ln.strip() for ln in str(cause).splitlines()
                  if ln.strip() and not ln.strip().startswith(("full_key:", "object_type=",
                                                               "reference_type="))]
    return " — ".join(lines) or type(exc).__name__


def compose(config_dir: Path, overrides: Sequence[str], config_name: str = "config"):
    """The config Hydra will compose for these overrides (with its ``hydra`` node); UserError
    with one line if it cannot be composed."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=list(overrides),
                                 return_hydra_config=True)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        message = _hydra_message(exc)
        group = re.search(r"Could not override '([^']+)'\. No match in the defaults list", message)
        if group:
            key = group.group(1)
            value = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), "X")
            raise UserError(f"config: '{key}={value}' does not apply conf/{key}/{value}.yaml; "
                            f"add it with a '+': +{key}={value} (several: "
                            f"'+{key}=[a,b]')") from None
        twice = re.search(r"Multiple values for (\w+(?:\.\w+)*)", message)
        if twice:
            key = twice.group(1)
            raise UserError(f"config: {key} is given more than once; combine them in one "
                            f"list: '+{key}=[a,b]' (later ones win)") from None
        unknown = re.search(r"Could not override '([^']+)'|Key '([^']+)' not in", message)
        if unknown and "Could not append" not in message:
            key = next(k for k in unknown.groups() if k)
            raise UserError(f"config: {unknown_key_line(key)}") from None
        raise UserError(f"config: {message}") from None
    finally:
        GlobalHydra.instance().clear()


def schema_keys() -> list[str]:
    """Every dotted key of the run config's schema (model/config.py:RunConfig)."""
    from dataclasses import fields, is_dataclass

    from model.config import RunConfig

    out: list[str] = []

    def walk(obj, prefix: str) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            key = f"{prefix}{f.name}"
            out.append(key)
            if is_dataclass(value):
                walk(value, key + ".")

    walk(RunConfig(), "")
    return out


def unknown_key_line(key: str) -> str:
    """``unknown key 'x.y' (did you mean x.z?)`` with the closest keys of the schema."""
    import difflib

    from model.config import ALIAS_ONLY_KEYS

    old = {f"{group}.{key}" for group, key in ALIAS_ONLY_KEYS}
    current = [k for k in schema_keys() if k not in old]  # old names: not suggested
    near = difflib.get_close_matches(key.lstrip("+"), current, n=3, cutoff=0.6)
    hint = (f"did you mean {', '.join(near)}?" if near
            else "the keys and their meaning: model/config.py, docs/formulation.md")
    return f"unknown key {key!r} ({hint})"


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------
def replay_memory_bytes(replications: int, regions: int, months: int, scopes: int = 2) -> int:
    """Memory the market replay needs (bytes): float64 arrays shaped (months, replications,
    regions) — those model/market.py records and derives, plus the pipeline and temporaries —
    and (months, replications, scopes) for vacancy. Checked against tracemalloc's peak in the
    tests."""
    from model import market

    per_region = len(market.RECORDED_ARRAYS) + len(market.DERIVED_ARRAYS) + _EXTRA_REGION_ARRAYS
    per_scope = len(market.SCOPE_ARRAYS) + _EXTRA_SCOPE_ARRAYS
    return 8 * int(replications) * int(months) * (per_region * regions + per_scope * scopes)


def available_memory_bytes() -> int | None:
    """Memory available to a new allocation now (Linux MemAvailable; else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                m = re.match(r"MemAvailable:\s+(\d+) kB", line)
                if m:
                    return int(m.group(1)) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1024 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"


def replay_memory_problems(key: str, replications: int, regions: int, months: int,
                           scopes: int = 2, copies: int = 1,
                           available: int | None = None) -> list[str]:
    """One line if ``copies`` replays of this size at once would not fit in memory."""
    need = replay_memory_bytes(replications, regions, months, scopes) * max(1, copies)
    available = available_memory_bytes() if available is None else available
    if available is None or need <= MEMORY_SHARE_LIMIT * available:
        return []
    per_replication = need / max(1, replications)
    most = max(1, int(MEMORY_SHARE_LIMIT * available / per_replication))
    where = f" in each of {copies} parallel workers" if copies > 1 else ""
    return [f"{key} = {replications} needs about {_size(need)} of memory for the replay "
            f"({regions} regions × {months} months{where}), more than the "
            f"{_size(available)} available; expected at most {most} on this machine"]
