"""Count audits: slit-scan strips and candidate crossings that a person confirms into crossings.csv."""
