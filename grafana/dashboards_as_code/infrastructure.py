"""aistack / Infrastructure: hosts, containers and GPUs."""

from __future__ import annotations

from .board import Board
from .panels import graph
from .queries import promql
from .variables import label_variable

# Label matchers of node-exporter series: the selected hosts, and their real filesystems.
NODE = 'instance=~"$instance"'
FILESYSTEMS = f'{NODE}, fstype!~"tmpfs|ramfs"'


def infrastructure() -> Board:
    """The infrastructure dashboard, filtered by `$instance` (node-exporter only)."""
    board = Board(
        "aistack-infrastructure",
        "aistack / Infrastructure",
        "Hosts (node-exporter), containers (cAdvisor) and GPUs (aistack's NVML gauges and "
        "dcgm-exporter).",
    )
    board.variable(
        label_variable(
            "instance",
            "Host",
            "label_values(node_uname_info, instance)",
            "node-exporter targets.",
        )
    )

    board.row("Hosts (node-exporter)")
    board.add(
        graph(
            "CPU busy",
            "percentunit",
            [
                promql(
                    "1 - avg by (instance) "
                    f'(rate(node_cpu_seconds_total{{mode="idle", {NODE}}}[$__rate_interval]))',
                    "{{instance}}",
                )
            ],
            "Share of CPU time not idle, all cores.",
            width=8,
            max_value=1,
        )
    )
    board.add(
        graph(
            "Memory used",
            "percentunit",
            [
                promql(
                    f"1 - node_memory_MemAvailable_bytes{{{NODE}}}"
                    f" / node_memory_MemTotal_bytes{{{NODE}}}",
                    "{{instance}}",
                )
            ],
            "Share of memory not available to new processes.",
            width=8,
            max_value=1,
        )
    )
    board.add(
        graph(
            "Disk space used",
            "percentunit",
            [
                promql(
                    f"1 - node_filesystem_avail_bytes{{{FILESYSTEMS}}}"
                    f" / node_filesystem_size_bytes{{{FILESYSTEMS}}}",
                    "{{instance}} {{mountpoint}}",
                )
            ],
            "Per filesystem (NodeDiskFull fires over 90 %).",
            width=8,
            max_value=1,
            thresholds=[(0.9, "red")],
        )
    )
    board.add(
        graph(
            "Load average (1 min)",
            "short",
            [promql(f"node_load1{{{NODE}}}", "{{instance}}")],
            "Runnable and waiting processes; compare with the number of cores.",
            width=8,
        )
    )
    board.add(
        graph(
            "Disk I/O",
            "Bps",
            [
                promql(
                    "sum by (instance) "
                    f"(rate(node_disk_read_bytes_total{{{NODE}}}[$__rate_interval]))",
                    "{{instance}} read",
                ),
                promql(
                    "sum by (instance) "
                    f"(rate(node_disk_written_bytes_total{{{NODE}}}[$__rate_interval]))",
                    "{{instance}} written",
                ),
            ],
            "Bytes read and written per second, all disks.",
            width=8,
        )
    )
    board.add(
        graph(
            "Network",
            "Bps",
            [
                promql(
                    "sum by (instance, device) (rate(node_network_receive_bytes_total"
                    f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                    "{{instance}} {{device}} received",
                ),
                promql(
                    "sum by (instance, device) (rate(node_network_transmit_bytes_total"
                    f'{{{NODE}, device!="lo"}}[$__rate_interval]))',
                    "{{instance}} {{device}} sent",
                ),
            ],
            "Bytes per second per interface, loopback excluded.",
            width=8,
        )
    )

    board.row("Containers (cAdvisor)")
    board.add(
        graph(
            "Container CPU",
            "percentunit",
            [
                promql(
                    'sum by (name) (rate(container_cpu_usage_seconds_total{name!=""}'
                    "[$__rate_interval]))",
                    "{{name}}",
                )
            ],
            "CPU per container; 100 % is one core.",
        ),
        requires="cadvisor",
    )
    board.add(
        graph(
            "Container memory",
            "bytes",
            [promql('sum by (name) (container_memory_working_set_bytes{name!=""})', "{{name}}")],
            "Working set per container (what the OOM killer looks at).",
        ),
        requires="cadvisor",
    )

    gpu = "{{instance}} GPU {{gpu}} {{name}}"
    board.row("GPUs (aistack workers, NVML)")
    for title, unit, expr, description in (
        ("GPU utilisation", "percent", "aistack_gpu_utilization_percent", "Time a kernel ran."),
        (
            "GPU memory used",
            "percentunit",
            "aistack_gpu_memory_used_bytes / aistack_gpu_memory_total_bytes",
            "Share of GPU memory in use, all processes (GPUMemoryFull fires over 95 %).",
        ),
        (
            "GPU temperature",
            "celsius",
            "aistack_gpu_temperature_celsius",
            "Core temperature (GPUHot fires over 85 °C).",
        ),
        ("GPU power", "watt", "aistack_gpu_power_watts", "Board power draw."),
    ):
        board.add(
            graph(title, unit, [promql(expr, gpu)], description, width=6),
            requires="gpu",
        )

    dcgm = "{{instance}} GPU {{gpu}} {{modelName}}"
    board.row("GPUs (dcgm-exporter)")
    for title, unit, expr, description in (
        ("DCGM GPU utilisation", "percent", "DCGM_FI_DEV_GPU_UTIL", "Time a kernel ran."),
        (
            "DCGM GPU memory used",
            "percentunit",
            "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
            "Share of frame buffer memory in use.",
        ),
        ("DCGM GPU temperature", "celsius", "DCGM_FI_DEV_GPU_TEMP", "Core temperature."),
        ("DCGM GPU power", "watt", "DCGM_FI_DEV_POWER_USAGE", "Board power draw."),
    ):
        board.add(
            graph(title, unit, [promql(expr, dcgm)], description, width=6),
            requires="dcgm",
        )
    return board
