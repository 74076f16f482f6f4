"""Forecast backtest (issue #22, "see rises coming"): the insight forecast against the two naive forecasts.

Builds 3 years (36 months) of monthly issue counts for many community × category series, drawn from Poisson
distributions around a known level with the seasonality and trends the demo also uses (lift complaints every
summer, heating from mid-November, 飞线充电 rising, flat series, declining ones, small and large levels).
Then, for each of the last 12 months, every series is forecast from the months before it only (rolling
origin; the first forecast sees 24 months) by:

- the model: portal.insight.forecast.predict (a penalized Poisson GLM, month of year + trend);
- "same month last year": the count 12 months earlier;
- "last month": the count of the month before.

Prints MAE (mean absolute error, issues) and MASE (the MAE scaled by each series' in-sample mean absolute
change from one month to the next, then averaged), overall and by kind of series, and the fit time.

    .venv/bin/python bench/forecast_bench.py [--series-per-kind 40] [--seed 7]
"""
import argparse
import time

import _common  # noqa: F401  (the project on sys.path)
import numpy as np

from portal.insight.forecast import predict

MONTHS = 36
TESTED = 12
START = 2023 * 12  # January 2023


def _summer(m):  # lifts: heat and load in July and August
    return {6: 2.6, 7: 2.2, 5: 1.4, 8: 1.3}.get(m % 12, 0.8)


def _heating(m):  # heating complaints: the season starts on 15 November and ends on 15 March
    return {10: 2.5, 11: 4.0, 0: 3.6, 1: 2.4, 2: 1.2}.get(m % 12, 0.25)


KINDS = {
    "summer peak (lift)": (lambda m, t: _summer(m)),
    "heating season": (lambda m, t: _heating(m)),
    "rising (飞线充电)": (lambda m, t: 1.5 ** t * (1.3 if m % 12 in (0, 1, 11) else 1.0)),
    "declining": (lambda m, t: 0.75 ** t),
    "flat": (lambda m, t: 1.0),
}


def generate(rng, per_kind):
    """[(kind, counts)] with levels from 2 to 20 issues a month."""
    out = []
    for kind, shape in KINDS.items():
        for _ in range(per_kind):
            level = rng.uniform(2, 20)
            rates = [level * shape(START + i, i / 12) for i in range(MONTHS)]
            out.append((kind, rng.poisson(rates)))
    return out


def backtest(series):
    errors = {name: {} for name in ("model", "same month last year", "last month")}
    scaled = {name: {} for name in errors}
    fit_seconds = 0.0
    for kind, y in series:
        for name in errors:
            errors[name].setdefault(kind, [])
            scaled[name].setdefault(kind, [])
        for target in range(MONTHS - TESTED, MONTHS):
            history = y[:target]
            scale = np.abs(np.diff(history)).mean() or 1.0
            started = time.perf_counter()
            model = predict(history, START + target).expected
            fit_seconds += time.perf_counter() - started
            for name, value in (("model", model), ("same month last year", history[-12]),
                                ("last month", history[-1])):
                error = abs(value - y[target])
                errors[name][kind].append(error)
                scaled[name][kind].append(error / scale)
    return errors, scaled, fit_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series-per-kind", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    series = generate(rng, args.series_per_kind)
    errors, scaled, fit_seconds = backtest(series)
    names = list(errors)
    print(f"{len(series)} series × {TESTED} forecasts (rolling origin after 24 months), seed {args.seed}")
    print(f"{'series':<22}" + "".join(f"{n + ' MAE':>27}{'MASE':>7}" for n in names))
    for kind in [*KINDS, "all"]:
        cells = []
        for name in names:
            e = sum(errors[name].values(), []) if kind == "all" else errors[name][kind]
            s = sum(scaled[name].values(), []) if kind == "all" else scaled[name][kind]
            cells.append(f"{np.mean(e):>27.2f}{np.mean(s):>7.2f}")
        print(f"{kind:<22}" + "".join(cells))
    fits = len(series) * TESTED
    print(f"model fit: {fits} fits in {fit_seconds:.1f} s ({1000 * fit_seconds / fits:.1f} ms each)")
    overall = {n: np.mean(sum(errors[n].values(), [])) for n in names}
    beaten = overall["model"] < min(overall["same month last year"], overall["last month"])
    print("the model beats both naive forecasts" if beaten else "THE MODEL DOES NOT BEAT BOTH NAIVE FORECASTS")
    return 0 if beaten else 1


if __name__ == "__main__":
    raise SystemExit(main())
