"""The officials' dashboard figures (DESIGN §4): the three rates, open and overdue work, medians,
proposals by state, ballot participation, hotspots, chases, trends — all computed by SQL aggregates.
The rates, ratings removed by appeals, work orders on time, medians and hotspots read what
portal.dashboard.rollups keeps beside the issues (IssueRollup, IssueDuration, IssueBuildingRollup) instead of
every issue of the period; `three_rates_direct`, `removed_by_appeal_count_direct`,
`work_orders_on_time_direct`, `medians_direct` and `hotspots_direct` compute the same from the issues and are
the reference the tests hold them to.

Rules kept by every function here:
- Exact arithmetic: counts are integers; a rate is a `Rate(numerator, denominator)` and is turned into a
  percentage string only for display (`Rate.percent()`, "—" when the denominator is zero). Medians are
  exact (`fractions.Fraction` of seconds). Standard deviations are never taken: hotspot tests compare
  squares of integers (see `hotspots`).
- SQLite and PostgreSQL give the same figures: medians use `row_number()` / `count() over ()` windows
  (PostgreSQL: the ordered-set `percentile_cont`, same result); durations are whole seconds (each
  timestamp truncated to the second) via one small dialect switch (`strftime('%s')` / `extract(epoch)`).
- Constant query count in the data size: each function issues a fixed number of statements (listed in
  its docstring) whatever the number of issues, actions, communities or months.
- Months are local calendar months of each community's time zone, by submission date (issues), creation
  date (chases) or opening date (ballots). They are computed without any time-zone support in SQL: for each
  distinct zone of the communities in scope, the UTC instants of the month boundaries are computed in
  Python, and a `CASE` over those boundaries gives each row its local month ("2026-11"); period filters are
  `(community in zone Z AND at >= start_Z AND at < end_Z) OR …`. Exact for any zone (DST included), and
  when all communities share Asia/Shanghai (the usual case) it is one range and one `CASE`.
- Issues merged as duplicates (status "duplicate") are left out of every figure: the issue they were merged
  into is counted instead. Hidden (moderated) issues are counted — officials' figures cover all work.
- Snapshots (open / overdue issues, overdue actions, proposals by state) describe "now" and ignore the
  month range; they respect the community, category and organization filters where these apply.

The figures live in one module per concern: `scope` (filters, months and zones, the dialect switch),
`rates`, `medians`, `hotspots` (with trends), `overview` (actions, proposals, ballots, chases and the
summary). Import from `portal.dashboard.services`."""
from portal.dashboard.services.hotspots import Hotspot, hotspots, hotspots_direct, issues_by_category, monthly_trend
from portal.dashboard.services.medians import Median, median_hours, medians, medians_direct
from portal.dashboard.services.overview import (
    ballot_heads,
    ballot_participation,
    chases_by_org,
    figures_change_at,
    overdue_actions_by_org,
    proposals_by_state,
    summary,
)
from portal.dashboard.services.rates import (
    ZERO,
    Rate,
    RateRow,
    category_name,
    issue_ids_behind,
    issues_behind,
    open_and_overdue_by_community,
    removed_by_appeal,
    removed_by_appeal_count,
    removed_by_appeal_count_direct,
    report_in_on_time,
    three_rates,
    three_rates_direct,
    work_orders_on_time,
    work_orders_on_time_direct,
)
from portal.dashboard.services.scope import (
    GROUPS,
    HOTSPOT_BASELINE_MONTHS,
    MAX_MONTHS,
    MEDIAN_KINDS,
    PARTS,
    RATES,
    SATISFIED,
    FilterError,
    Filters,
    add_months,
    epoch_seconds,
    month_key,
    months_between,
    parse_month,
)
