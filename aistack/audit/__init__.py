"""Count audits: slit-scan strips and candidate crossings a person confirms into crossings.csv."""
