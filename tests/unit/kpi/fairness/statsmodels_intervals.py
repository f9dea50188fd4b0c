"""Reference intervals from statsmodels for tests/unit/kpi/fairness/statsmodels.test.ts.

Reads {"cases": [{"x1", "n1", "x2", "n2", "alpha"}, ...]} on stdin and writes one JSON object with
"version" and "results" (one entry per case) on stdout. Run by Debian's /usr/bin/python3 with Debian's
python3-statsmodels (deploy/scripts/install-test-tools.sh installs it).
"""
import json
import sys

import statsmodels
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint


def pair(v):
    return [float(v[0]), float(v[1])]


def main():
    cases = json.load(sys.stdin)["cases"]
    results = []
    for c in cases:
        x1, n1, x2, n2, alpha = c["x1"], c["n1"], c["x2"], c["n2"], c["alpha"]
        r = {
            "z": float(stats.norm.isf(alpha / 2)),
            "wilson1": pair(proportion_confint(x1, n1, alpha=alpha, method="wilson")),
            "wilson2": pair(proportion_confint(x2, n2, alpha=alpha, method="wilson")),
            "newcomb": pair(
                confint_proportions_2indep(x1, n1, x2, n2, compare="diff", method="newcomb", alpha=alpha)
            ),
            "log": None,
            "log_adjusted": None,
        }
        # The plain log interval divides by both counts: defined only when neither is 0.
        if x1 > 0 and x2 > 0:
            r["log"] = pair(
                confint_proportions_2indep(x1, n1, x2, n2, compare="ratio", method="log", alpha=alpha)
            )
        if x2 > 0:
            r["log_adjusted"] = pair(
                confint_proportions_2indep(
                    x1, n1, x2, n2, compare="ratio", method="log-adjusted", alpha=alpha
                )
            )
        results.append(r)
    json.dump({"version": statsmodels.__version__, "results": results}, sys.stdout)


main()
