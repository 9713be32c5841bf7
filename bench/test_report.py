#!/usr/bin/env python3
"""Checks bench/report.py on a small synthetic run (no benchmark is run): the report it writes
passes `report.py --check` (every number in it comes from the run's results or is a named target
or setting), the figures its prose computes follow the results (a run with other numbers gets
other sentences), and the check flags a figure that is not from the run.
Usage: test_report.py   (ctest: tst_benchreport)"""
import json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "report.py")


def fan(server, n, sat, half, p99, cpu=1.0, capped=False):
    return {"bench": "fanout", "server": server, "clients": n, "publishers": min(n, 50),
            "saturation": sat, "server_cpu_at_saturation": cpu,
            "generator_cpu_at_saturation": 0.37, "half_delivered": half, "p50_ms": 1.44,
            "p99_ms": p99, "p999_ms": 9.48, "cpu_s_per_million": 0.87,
            "rss_per_conn_bytes": 21709, "capped": capped, "errors": 0}


def strokes(hz, up, down, batch_points=12, batch_ms=60, ppb=10.99):
    return {"bench": "strokes", "hz": hz, "batch_points": batch_points, "batch_ms": batch_ms,
            "points": 9990, "points_per_batch": ppb, "up_bytes_per_point": up,
            "down_bytes_per_point": down, "one_message_bytes_per_point": 1.29,
            "path_point_bytes_per_point": 1.06, "protocol1_point_bytes_per_point": 2.02}


def run(hz120_up=3.34, hz120_down=3.62, scrawl_half=1120680):
    return [
        {"bench": "machine", "date": "2026-11-30", "cpus": 2, "loadavg_start": "0.61 1.05 1.25",
         "cpu": "Test CPU", "quick": 0, "commit": "037a0e5", "nice": "", "node": "v20.20.2"},
        fan("scrawl", 100, 2241500, scrawl_half, 5.08),
        fan("scrawl-tmpfs", 100, 2255800, 1128170, 3.20),
        fan("node-ws", 100, 319329, 159672, 0.69),
        fan("socket.io", 100, 119991, 60000, 10.28, cpu=0.72),
        {"bench": "fanout_equal", "server": "scrawl", "clients": 100, "offered": 159664,
         "delivered": 159672, "p50_ms": 0.45, "p99_ms": 0.99, "p999_ms": 3.33},
        strokes(120, hz120_up, hz120_down, ppb=7.61),
        strokes(200, 2.65, 2.91),
        strokes(240, 2.65, 2.91, ppb=10.98),
        strokes(200, 5.06, 5.46, batch_points=100000, batch_ms=16, ppb=3.96),
        {"bench": "join", "strokes": 10000, "points": 998969, "snapshot_bytes": 1297004,
         "wire_bytes": 1297070, "ms": 22.8, "ms_unchanged": 15.6, "ms_joined": 8.1,
         "ms_parse": 5.8, "ms_load": 6.3, "runs": 5},
        {"bench": "speedtest", "mode": "HTTP keep-alive", "messages": 1000, "total_ms": 212.4,
         "p50_us": 209, "p99_us": 330, "up_bytes_per_msg": 236.9, "down_bytes_per_msg": 243.8,
         "connections": 1},
        {"bench": "canvas", "backend": "default (rhi)", "strokes": 100000,
         "run": "pan at 100% (12 px/frame)", "mean_ms": 7.26, "p50_ms": 6.45, "p95_ms": 11.63,
         "max_ms": 18.03, "sync_mean_ms": 0.11, "sync_p95_ms": 0.5},
        {"bench": "canvas", "backend": "default (rhi)", "strokes": 100000,
         "run": "remote: first pixels (220 ops)", "mean_ms": 22.63, "p50_ms": 22.46,
         "p95_ms": 31.85, "max_ms": 42.38},
        {"bench": "machine_end", "loadavg_end": "1.54 1.29 1.28", "seconds": 441},
    ]


def report(tmp, results, name):
    src = os.path.join(tmp, name + ".jsonl")
    md = os.path.join(tmp, name + ".md")
    with open(src, "w") as f:
        f.write("\n".join(json.dumps(r) for r in results) + "\n")
    env = dict(os.environ, PATH=os.environ.get("PATH", ""))
    # The plot needs gnuplot; the text is what is checked here.
    subprocess.run([sys.executable, REPORT, src, md, os.path.join(tmp, name + ".png")],
                   check=False, env=env, stderr=subprocess.DEVNULL)
    text = open(md).read()
    chk = subprocess.run([sys.executable, REPORT, "--check", src, md], capture_output=True, text=True)
    return src, md, text, chk


failures = []
def expect(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)

with tempfile.TemporaryDirectory() as tmp:
    src, md, text, chk = report(tmp, run(), "a")
    expect(chk.returncode == 0, "the written report passes --check: " + chk.stdout)
    expect("ten times" not in text and "llvmpipe" not in text and "10-500 ms" not in text,
           "no sentence of figures the run did not measure")
    expect("(at 200 and 240 Hz), not at 120 Hz" in text, "met at the rates that met: " + text)
    expect("7.0× the fastest other server's at N = 100" in text, "the load ratio is computed: 1120680 / 159672")
    expect("N = 100: p99 5.08 ms on disk, 3.20 ms on tmpfs" in text, "the disk's cost is this run's")
    expect("(this run: 441 s)" in text, "the run's duration")

    # Other results, other sentences: 120 Hz meets the target too, Scrawl at 3.5x.
    _, _, text2, chk2 = report(tmp, run(hz120_up=2.9, hz120_down=2.95, scrawl_half=558852), "b")
    expect(chk2.returncode == 0, "the second report passes --check: " + chk2.stdout)
    expect("(at 120, 200 and 240 Hz)" in text2 and "not at" not in text2.split("≤ 3 bytes")[1].split("\n")[0],
           "the verdict follows the results")
    expect("3.5× the fastest other server's at N = 100" in text2, "the ratio follows the results")

    # A figure that is not from the run is flagged, with its line.
    with open(md, "a") as f:
        f.write("\nfdatasync during checkpoints took 10-500 ms here; ten times 37.5 % faster.\n")
    bad = subprocess.run([sys.executable, REPORT, "--check", src, md], capture_output=True, text=True)
    expect(bad.returncode == 1, "--check fails on a figure not from the run")
    for tok in ("500", "37.5"):
        expect(f" {tok} is not from this run" in bad.stdout, f"--check names {tok}: " + bad.stdout)

print("ok" if not failures else f"{len(failures)} failed")
sys.exit(1 if failures else 0)
