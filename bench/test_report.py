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


def equal(server, n, p50, p99, offered=159664, basis="node-ws"):
    return {"bench": "fanout_equal", "server": server, "data": "/tmp", "clients": n,
            "publishers": min(n, 100), "basis": basis, "offered": offered, "delivered": offered + 8,
            "p50_ms": p50, "p99_ms": p99, "p999_ms": 3.33, "errors": 0, "lost": 0,
            "undelivered": 0, "closed": 0}


def overload(server, n, factor, sat, delivered, rss, closed=0, lost=0, server_refused=0,
             undelivered=0):
    before, peak, after = rss
    return {"bench": "fanout_overload", "server": server, "clients": n, "publishers": min(n, 100),
            "factor": factor, "seconds": 30, "saturation": sat,
            "offered": sat * factor, "offered_ops": sat * factor / n,
            "per_publisher_ops": sat * factor / n / min(n, 100), "client_cap_ops": 500,
            "sent_ops": 700000, "refused_ops": 1234, "server_refused_ops": server_refused,
            "latency_samples": 5000, "delivered": delivered,
            "goodput_pct": 100 * delivered / sat, "p50_ms": 3400.5, "p99_ms": 4210.25,
            "p999_ms": 4300.0, "max_ms": 4400.0, "server_cpu": 0.97, "rss_before_bytes": before,
            "rss_peak_bytes": peak, "rss_after_bytes": after, "rss_settled": True,
            "closed": closed,
            "close_reasons": "close 1008: fell more than 16 MB behind the wall (%d)" % closed if closed else "",
            "errors": 0, "error_messages": "", "lost": lost, "undelivered": undelivered,
            "duplicated": 0, "out_of_order": 0,
            "drained": True}


def strokes(hz, up, down, batch_points=12, batch_ms=60, ppb=10.99):
    return {"bench": "strokes", "hz": hz, "batch_points": batch_points, "batch_ms": batch_ms,
            "points": 9990, "points_per_batch": ppb, "up_bytes_per_point": up,
            "down_bytes_per_point": down, "one_message_bytes_per_point": 1.29,
            "path_point_bytes_per_point": 1.06, "protocol1_point_bytes_per_point": 2.02}


def ink(rtt, ppb, up, down):
    return {"bench": "ink", "hz": 200, "rtt_ms": rtt, "points": 4000, "ops": 1300,
            "points_per_batch": ppb, "up_bytes_per_point": up, "down_bytes_per_point": down}


def canvas(run_, p50, p95, mx, images=0, sync_p95=0.5):
    return {"bench": "canvas", "backend": "default (rhi)", "strokes": 100000, "run": run_,
            "mean_ms": p50 + 0.5, "p50_ms": p50, "p95_ms": p95, "max_ms": mx, "sync_mean_ms": 0.11,
            "sync_p95_ms": sync_p95, "images": images}


def cluster_soak(redis_lost=30, lost=0):
    return {"bench": "cluster_soak", "clients": 30, "servers": 3, "draw_seconds": 30.0018, "made": 3244,
            "acked": 3244, "stored": 3244, "xlen": 3244, "head": 3244, "fresh_head": 3244, "trimmed_unread": 0,
            "min_delivered": 3244, "max_delivered": 3244, "clients_exact": 30, "lost": lost, "duplicated": 0,
            "other_bytes": 0, "view_missing": 0, "unacked": 0, "refused": 0, "resent": 3, "ops_per_s": 108.127,
            "ack_p50_ms": 3.70052, "ack_p99_ms": 4345.72, "steady_ack_p50_ms": 3.74561, "steady_ack_p99_ms": 12.6232,
            "server_kill_at_s": 9.00943, "server_unacked_at_kill": 1, "server_down_s": 5.00016,
            "server_back_s": 0.725591, "server_connections_lost": 10, "redis_kill_at_s": 19.5053,
            "redis_unacked_at_kill": 1, "redis_down_s": 2.00196, "redis_answering_s": 0.0395703,
            "redis_back_s": 5.6234, "redis_connections_lost": redis_lost, "acked_while_redis_down": 0,
            "haproxy_downs": 5, "haproxy_no_server": 1,
            "connections": 70, "snapshot_joins": 0, "resume_failures": 9, "stored_twice": 24, "loadavg_start": "3.00 2.61 1.89",
            "loadavg_end": "3.22 2.72 1.95", "pass": lost == 0}


def cluster_fan(setup, servers, offered, delivered, p99, cpu=0.3, redis=0.1):
    return {"bench": "cluster_fanout", "setup": setup, "storage": "redis" if setup != "sqlite" else "sqlite",
            "servers": servers, "clients": 100, "publishers": 20, "offered": offered, "offered_ops": offered / 100,
            "delivered": delivered, "window_s": 3, "latency_samples": 1000, "p50_ms": 1.31, "p99_ms": p99,
            "p999_ms": 15.32, "max_ms": 20.1, "lost": 0, "undelivered": 0, "duplicated": 0, "out_of_order": 0,
            "refused_ops": 0, "server_refused_ops": 0, "errors": 0, "error_messages": "", "closed": 0,
            "close_reasons": "", "server_cpu": cpu, "redis_cpu": redis if setup != "sqlite" else 0,
            "drained": True, "loadavg": "2.40 2.51 1.82"}


def cluster_rows(redis_lost=30, p99_three=12.31):
    return [cluster_soak(redis_lost),
            cluster_fan("sqlite", 1, 80000, 80000, 4.93, cpu=0.56),
            cluster_fan("cluster-1", 1, 80000, 79844, 11.48, cpu=0.27, redis=0.09),
            cluster_fan("cluster-2", 2, 80000, 80033, 20.44),
            cluster_fan("cluster-3", 3, 80000, 79933, p99_three)]


def run(hz120_up=3.34, hz120_down=3.62, scrawl_half=1120680, scrawl_3x=150000, ink_down=5.33):
    return [
        {"bench": "machine", "date": "2026-11-30", "cpus": 2, "loadavg_start": "0.61 1.05 1.25",
         "cpu": "Test CPU", "quick": 0, "commit": "037a0e5", "nice": "", "node": "v20.20.2"},
        fan("scrawl", 100, 2241500, scrawl_half, 5.08),
        fan("scrawl-tmpfs", 100, 2255800, 1128170, 3.20),
        fan("node-ws", 100, 319329, 159672, 0.69),
        fan("socket.io", 100, 119991, 60000, 10.28, cpu=0.72),
        fan("scrawl", 10, 45005, 22502, 1.27, capped=True),
        fan("lws", 100, 1250000, 625000, 1.10),
        fan("scrawl", 1000, 1673410, 834514, 30.84),
        fan("node-ws", 1000, 245102, 122565, 5.87),
        fan("lws", 1000, 2900000, 1450000, 9.10),
        equal("scrawl", 100, 0.45, 0.99),
        equal("node-ws", 100, 0.34, 3.21),
        equal("lws", 100, 0.30, 0.81),
        overload("scrawl", 100, 1.5, 2241500, 2200000, (50e6, 61e6, 52e6)),
        overload("scrawl", 100, 3, 2241500, scrawl_3x, (52e6, 1450e6, 1400e6), closed=100, lost=77, undelivered=5551,
                 server_refused=4321),
        overload("lws", 100, 3, 1250000, 1220000, (5e6, 9e6, 5.2e6)),
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
        ink(0, 3.16, 5.88, ink_down),
        ink(100, 19.9, 1.92, 1.90),
        canvas("pan at 100% (12 px/frame)", 6.45, 11.63, 18.03),
        canvas("move 10,000 selected strokes", 14.73, 16.46, 89.76),
        canvas("pan at 100% (12 px/frame)", 8.79, 12.21, 20.5, images=100, sync_p95=0.17),
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
    expect("7.0× node-ws's at N = 100" in text, "the load ratio is computed: 1120680 / 159672")
    expect("| scrawl | 100 | 3× | 6,724,500 | 150,000 | 7 % | 97 % | 3400.5 | 4210.2 | 52 / 1450 / 1400 | 100 | "
           "1,234 of 701,234; 4,321 by the server | 77 / 5,551 / 0 / 0 | closed: close 1008: fell more than 16 MB behind the wall (100) |"
           in text, "the overload row is the run's: " + text)
    expect("| lws | 100 | 3× |" in text, "every server has its overload rows")
    expect("(ops Scrawl refused there: 4,321)" in text, "over the per-client cap, the refusals are named")
    expect("No overload steps for scrawl N = 10: the publishers" in text, "a capped run says why it has no steps")
    expect("**7 %** (150,000 of 2,241,500/s)" in text and "(2692 % of before) | **not met** |" in text,
           "the collapse fails the overload target")
    expect("(104 % of before) | **met** |" in text, "1.5x without loss meets it")
    expect("100 clients closed, 77 lost, 5,551 not arrived when the drain ended" in text,
           "lost and not arrived are told apart")
    expect("Scrawl p50 **0.45** / p99 **0.99 ms**; node-ws 0.34 / 3.21; lws 0.30 / 0.81 (at 159,664 "
           "deliveries/s) | **not met** |" in text, "equal load against ws and lws")
    expect("= **6.83×** | **not met** |" in text, "15x ws at N = 1000")
    expect("= **1.79×** | **met** |" in text and "= **0.58×** | **not met** |" in text,
           "1.5x libwebsockets at N = 100 and 1000")
    expect("| lws | 100 | 50 | 1,250,000 |" in text, "lws in the fan-out table")
    expect("N = 100: p99 5.08 ms on disk, 3.20 ms on tmpfs" in text, "the disk's cost is this run's")
    expect("(this run: 441 s)" in text, "the run's duration")
    expect("| bytes a point at 200 Hz on loopback: ≤ 6 bytes | up **5.88**, down **5.33** (3.16 points "
           "a batch) | **met** |" in text, "ink on loopback against its target: " + text)
    expect("| bytes a point at 200 Hz at 100 ms round trip (fault proxy): ≤ 3.5 bytes | up **1.92**, "
           "down **1.90** (19.90 points a batch) | **met** |" in text, "ink at 100 ms RTT against its target")
    expect("| 200 | loopback | 4,000 | 1,300 | 3.16 | 5.88 | 5.33 |" in text, "the ink table")
    expect("p50 **14.73 ms**, p95 16.46, the first frame 89.76 | **met** |" in text,
           "a selection of 10,000 strokes moving, against 16 ms")
    expect("### With 100 images under the ink" in text
           and "| default (rhi) | 100,000 | pan at 100% (12 px/frame) | 6.45 | 8.79 | 11.63 | 12.21 | 0.17 |"
           in text, "images beside the same run without them")
    expect(text.count("| default (rhi) | 100,000 | pan at 100% (12 px/frame) | ") == 2,
           "the run with images is not in the plain canvas table too")

    # Other results, other sentences: 120 Hz meets the target too, Scrawl at 3.5x.
    _, _, text2, chk2 = report(tmp, run(hz120_up=2.9, hz120_down=2.95, scrawl_half=558852,
                                        scrawl_3x=2100000, ink_down=6.24), "b")
    expect(chk2.returncode == 0, "the second report passes --check: " + chk2.stdout)
    expect("(at 120, 200 and 240 Hz)" in text2 and "not at" not in text2.split("≤ 3 bytes")[1].split("\n")[0],
           "the verdict follows the results")
    expect("3.5× node-ws's at N = 100" in text2, "the ratio follows the results")
    expect("**94 %** (2,100,000 of 2,241,500/s)" in text2, "the goodput follows the results")
    expect("down **6.24** (3.16 points a batch) | **not met** |" in text2, "ink over 6 bytes is not met")

    # A figure that is not from the run is flagged, with its line.
    with open(md, "a") as f:
        f.write("\nfdatasync during checkpoints took 10-900 ms here; ten times 37.5 % faster.\n")
    bad = subprocess.run([sys.executable, REPORT, "--check", src, md], capture_output=True, text=True)
    expect(bad.returncode == 1, "--check fails on a figure not from the run")
    for tok in ("900", "37.5"):
        expect(f" {tok} is not from this run" in bad.stdout, f"--check names {tok}: " + bad.stdout)

    # The Cluster section: in the full report when the run has cluster rows, and alone
    # (--cluster, as scripts/bench --cluster-only writes it) in place of an earlier one.
    _, _, text3, chk3 = report(tmp, run() + cluster_rows(), "c")
    expect(chk3.returncode == 0, "the report with a Cluster section passes --check: " + chk3.stdout)
    expect("| **lost / duplicated** | **0 / 0** |" in text3, "the soak's losses are the run's: " + text3)
    expect("| people not resumed on a reconnect (welcomed as someone new) | 9; ops of one person stored under "
           "two identities: 24 |" in text3 and "was stored a second time (24 ops)" in text3,
           "identities lost are told")
    expect("| server killed: people back after | **0.73 s** (10 connections cut, 1 ops unacknowledged at the kill) |"
           in text3, "the recovery after the server kill")
    expect("| Redis killed: people back after its restart | **5.62 s** (Redis answering after 0.04 s; 30 "
           "connections cut; 0 ops acknowledged while it was down) |" in text3, "the recovery after Redis")
    expect("| cluster, 3 servers | 80,000 | 79,933 | 1.31 | 12.31 | 15.32 | 0 / 0 | 30 % | 10 % |" in text3,
           "the fan-out row of three servers")
    expect("| single server, SQLite | 80,000 | 80,000 | 1.31 | 4.93 | 15.32 | 0 / 0 | 56 % | — |" in text3,
           "the single server beside them")
    expect("(2.5× its p99)" in text3, "the p99 ratio is computed: 12.31 / 4.93")
    expect("Every person was cut off by the Redis restart" in text3
           and "a server taken out: 5, no server available: 1" in text3, "all cut: said, with why")
    _, _, text4, _ = report(tmp, run() + cluster_rows(redis_lost=4, p99_three=9.86), "d")
    expect("Every person was cut off" not in text4 and "(2.0× its p99)" in text4, "the prose follows the rows")
    results_md = os.path.join(tmp, "RESULTS.md")
    with open(results_md, "w") as f:
        f.write("# Results\n\n## Fan-out\n\nkept\n\n## Cluster (old)\n\nold figures 1234\n")
    src5 = os.path.join(tmp, "e.jsonl")
    with open(src5, "w") as f:
        f.write("\n".join(json.dumps(r) for r in cluster_rows()) + "\n")
    subprocess.run([sys.executable, REPORT, "--cluster", src5, results_md, os.path.join(tmp, "cluster.png")],
                   check=False, stderr=subprocess.DEVNULL)
    text5 = open(results_md).read()
    expect("kept" in text5 and "old figures" not in text5 and text5.count("## Cluster") == 1,
           "--cluster replaces the old section and keeps the rest: " + text5)
    chk5 = subprocess.run([sys.executable, REPORT, "--check-cluster", src5, results_md], capture_output=True, text=True)
    expect(chk5.returncode == 0, "--check-cluster passes on it: " + chk5.stdout)
    with open(results_md, "a") as f:
        f.write("\nThree servers took 77.7 ms more.\n")
    chk6 = subprocess.run([sys.executable, REPORT, "--check-cluster", src5, results_md], capture_output=True, text=True)
    expect(chk6.returncode == 1 and " 77.7 is not from this run" in chk6.stdout,
           "--check-cluster flags a figure not from the run: " + chk6.stdout)

print("ok" if not failures else f"{len(failures)} failed")
sys.exit(1 if failures else 0)
