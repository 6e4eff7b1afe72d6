"""docs/benchmarks-throughput.png: throughput and p50 latency against
concurrency on the small MLP, one line per server."""

from __future__ import annotations

from .points import Point
from .settings import PLOT, SMALL_CONCURRENCY

# Server name in the point keys (small/<name>/c<C>): colour, marker, line style, legend label.
STYLES = {"echo": ("tab:gray", "s", "-", "bare tonic echo (no model)"),
          "switchyard": ("tab:blue", "o", "-", "Switchyard"),
          "python": ("tab:orange", "^", "-", "Python grpcio + onnxruntime"),
          "switchyard-nospin": ("tab:cyan", "v", ":", "Switchyard --idle-spin-us 0"),
          "switchyard-opportunistic": ("tab:green", "P", "--", "Switchyard, batching with no wait"),
          "switchyard-1io": ("tab:olive", "X", "--", "Switchyard, one I/O thread"),
          "inline-prototype": ("tab:purple", "d", ":", "prototype: ORT inline on the I/O thread")}  # fmt: skip


def plot_servers(ax_tp, ax_lat, points: dict[str, Point]) -> None:
    for name, (color, marker, linestyle, label) in STYLES.items():
        xs, tps, p50s = [], [], []
        for c in SMALL_CONCURRENCY:
            point = points.get(f"small/{name}/c{c}")
            if point and point.rps:
                xs.append(c)
                tps.append(point.rps)
                p50s.append(point.latency("p50") or 0)
        ax_tp.plot(xs, tps, marker=marker, color=color, linestyle=linestyle, label=label)
        ax_lat.plot(xs, [v / 1000 for v in p50s], marker=marker, color=color, linestyle=linestyle, label=label)
    batched = points.get("small/switchyard-batched/c64")
    if batched and batched.rps:
        ax_tp.plot([64], [batched.rps], marker="*", markersize=13, color="tab:green", linestyle="none",
                   label="Switchyard, dynamic batching")  # fmt: skip
        ax_lat.plot([64], [(batched.latency("p50") or 0) / 1000], marker="*", markersize=13, color="tab:green",
                    linestyle="none", label="Switchyard, dynamic batching")  # fmt: skip


def label_axes(ax_tp, ax_lat) -> None:
    for ax in (ax_tp, ax_lat):
        ax.set_xscale("log", base=2)
        ax.set_xticks(SMALL_CONCURRENCY, [str(c) for c in SMALL_CONCURRENCY])
        ax.set_xlabel("concurrency (requests in flight)")
        ax.grid(True, which="both", alpha=0.3)
    ax_tp.set_yscale("log")
    ax_tp.set_ylabel("throughput (requests/s, log)")
    ax_tp.set_title("Small MLP 64→256→256→10, batch 1")
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("p50 latency (ms, log)")
    ax_lat.set_title("Median latency")
    ax_tp.legend(fontsize=8)


def plot(points: dict[str, Point]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_tp, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    plot_servers(ax_tp, ax_lat, points)
    label_axes(ax_tp, ax_lat)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)
