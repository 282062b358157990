"""Speed: benchmark suites whose figures are ratios measured in one run."""
