"""What notebooks and reports use: tuner widgets, previews, jobs, analysis, the demo."""
