"""The forecast model (portal.insight.forecast) on series whose answer is known."""
import numpy as np

from portal.insight.forecast import SEASONAL_MIN, TREND_MIN, predict

JAN_2023 = 2023 * 12


def test_a_july_rise_seen_two_years_running_is_forecast_for_the_third_july():
    # 6 lift complaints a month, 18 every July, for 2023 and 2024 and the first half of 2025.
    counts = [18 if (JAN_2023 + i) % 12 == 6 else 6 for i in range(30)]
    july_2025 = JAN_2023 + 30
    assert july_2025 % 12 == 6
    july = predict(counts, july_2025)
    june = predict(counts[:-1], july_2025 - 1)
    assert july.method == "glm"
    assert 14 <= july.expected <= 19
    assert 5 <= june.expected <= 7.5
    assert july.season_pct >= 100  # July at least twice the average month


def test_a_steady_rise_is_carried_forward_as_a_trend():
    counts = [round(4 * 1.6 ** (i / 12)) for i in range(36)]
    found = predict(counts, JAN_2023 + 36)
    assert found.trend_pct >= 40
    assert found.expected > counts[-1]


def test_short_histories_fall_back_to_a_trend_then_to_the_mean():
    assert predict([], JAN_2023).expected == 0
    assert predict([3, 5], JAN_2023 + 2).method == "mean"
    assert predict([3, 5], JAN_2023 + 2).expected == 4
    assert predict([2] * (TREND_MIN - 1) + [5], JAN_2023 + TREND_MIN).method == "trend"
    assert predict([4] * (SEASONAL_MIN - 1), JAN_2023 + SEASONAL_MIN - 1).method == "trend"
    assert abs(predict([4] * (SEASONAL_MIN - 1), JAN_2023 + SEASONAL_MIN - 1).expected - 4) < 0.2
    assert predict([0] * 30, JAN_2023 + 30).expected == 0


def test_a_month_of_the_year_that_never_had_an_issue_does_not_break_the_fit():
    counts = [0 if (JAN_2023 + i) % 12 == 0 else 5 for i in range(36)]
    found = predict(counts, JAN_2023 + 36)  # a January, after three without an issue
    assert np.isfinite(found.expected) and 0 <= found.expected < 2


def test_the_model_beats_both_naive_forecasts_on_seasonal_poisson_series():
    rng = np.random.default_rng(3)
    errors = {"model": [], "last year": [], "last month": []}
    for _ in range(30):
        level = rng.uniform(3, 15)
        rates = [level * (2.5 if (JAN_2023 + i) % 12 in (6, 7) else 1.0) * 1.2 ** (i / 12) for i in range(36)]
        y = rng.poisson(rates)
        for t in range(24, 36):
            errors["model"].append(abs(predict(y[:t], JAN_2023 + t).expected - y[t]))
            errors["last year"].append(abs(y[t - 12] - y[t]))
            errors["last month"].append(abs(y[t - 1] - y[t]))
    mae = {k: float(np.mean(v)) for k, v in errors.items()}
    assert mae["model"] < mae["last year"] and mae["model"] < mae["last month"], mae
