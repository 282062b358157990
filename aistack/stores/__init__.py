"""Events back in as pandas DataFrames: SQLite, InfluxDB and Prometheus."""
