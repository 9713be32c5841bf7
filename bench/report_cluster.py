"""The "Cluster" section of bench/RESULTS.md and its plot (bench/cluster.png), from the RESULT
lines of `scrawl-bench cluster-soak` and `scrawl-bench cluster-fanout`. Used by report.py, which
passes its `d()` (records a computed figure for --check) and `fmt()`.

Every figure comes from the rows; the prose names only settings of the benchmark code and of
deploy/haproxy.cfg (listed in METHOD, which report.py adds to its own)."""
import os, subprocess, tempfile

HEADING = "## Cluster"

METHOD = [
    (r"three scrawl-servers|1, 2 and 3|1/2/3", "bench_clustersoak.cpp / bench_clusterfanout.cpp: the setups"),
    (r"every 500 ms, out after two failures", "deploy/haproxy.cfg: inter 500ms fall 2"),
    (r"appendfsync always", "the Redis setting the cluster relies on"),
    (r"for 5 s \(kClusterRedisGraceMs\)", "core/limits.h: the grace before a server closes its members"),
    (r"answers 503", "HTTP status Service Unavailable"),
    (r"with -9", "SIGKILL"),
    (r"0\.5 s doubling to 10 s", "soakcrowd.cpp: the reconnect backoff, as the app's"),
    (r"every 2 s", "bench_clustersoak.cpp: how often the log is read"),
]

SETUP_ORDER = ["sqlite", "cluster-1", "cluster-2", "cluster-3"]
SETUP_NAME = {"sqlite": "single server, SQLite", "cluster-1": "cluster, 1 server",
              "cluster-2": "cluster, 2 servers", "cluster-3": "cluster, 3 servers"}


def has_rows(rows):
    return any(r.get("bench") in ("cluster_soak", "cluster_fanout", "cluster_join") for r in rows)


def _secs(v):
    return "—" if v is None or v < 0 else f"{v:.2f} s"


def section(rows, d, fmt):
    """Markdown lines of the Cluster section (empty when the run has no cluster rows)."""
    soaks = [r for r in rows if r.get("bench") == "cluster_soak"]
    fans = [r for r in rows if r.get("bench") == "cluster_fanout"]
    joins = [r for r in rows if r.get("bench") == "cluster_join"]
    if not soaks and not fans and not joins:
        return []
    md = [f"{HEADING} (`scrawl-bench cluster-soak`, `scrawl-bench cluster-fanout`, `scrawl-bench cluster-join`)\n"]
    for s in soaks:
        md.append("### Soak through HAProxy, a server and Redis killed\n")
        md.append(f"{s['clients']} people drew and chatted on one wall for {s['draw_seconds']:.0f} s through "
                  "HAProxy (the shipped `deploy/haproxy.cfg`: health checked every 500 ms, out after two "
                  "failures, its sessions shut) to three scrawl-servers with `--redis`, sharing one "
                  "redis-server with appendonly and appendfsync always. At "
                  f"t = {s['server_kill_at_s']:.0f} s one scrawl-server was killed with -9 and started again "
                  f"on its port {s['server_down_s']:.0f} s later; at t = {s['redis_kill_at_s']:.0f} s Redis "
                  f"was killed with -9 and started again on its AOF {s['redis_down_s']:.0f} s later. People "
                  "reconnect as the app does (0.5 s doubling to 10 s), resume with their last seq and "
                  "resend what was not acknowledged under the same client op ids. The wall's Redis stream "
                  "was read every 2 s while Redis was up (before snapshots trim it) and every "
                  "acknowledgement and every client's view checked against it. Load average "
                  f"{s['loadavg_start']} at the start, {s['loadavg_end']} at the end.\n")
        md.append("| figure | value |")
        md.append("|---|---|")
        md.append(f"| ops sent | {fmt(s['made'])} ({fmt(s['ops_per_s'])} ops/s acknowledged; "
                  f"{fmt(s['resent'])} resent after a reconnect) |")
        md.append(f"| ops acknowledged | {fmt(s['acked'])} ({fmt(s['unacked'])} never, {fmt(s['refused'])} refused) |")
        md.append(f"| ops stored (the wall's Redis stream) | {fmt(s['stored'])} (XLEN {fmt(s['xlen'])}, head seq "
                  f"{fmt(s['head'])}, a fresh join's head {fmt(s['fresh_head'])}) |")
        md.append(f"| delivered to every client | min {fmt(s['min_delivered'])}, max {fmt(s['max_delivered'])}; "
                  f"{s['clients_exact']} of {s['clients']} clients hold exactly the stored sequence, same "
                  f"bytes ({fmt(s['other_bytes'])} differ) |")
        md.append(f"| **lost / duplicated** | **{fmt(s['lost'])} / {fmt(s['duplicated'])}** |")
        md.append(f"| people not resumed on a reconnect (welcomed as someone new) | {fmt(s.get('resume_failures', 0))}; "
                  f"ops of one person stored under two identities: {fmt(s.get('stored_twice', 0))} |")
        md.append(f"| server killed: people back after | **{_secs(s['server_back_s'])}** "
                  f"({fmt(s['server_connections_lost'])} connections cut, {fmt(s['server_unacked_at_kill'])} "
                  "ops unacknowledged at the kill) |")
        md.append(f"| Redis killed: people back after its restart | **{_secs(s['redis_back_s'])}** "
                  f"(Redis answering after {_secs(s['redis_answering_s'])}; "
                  f"{fmt(s['redis_connections_lost'])} connections cut; "
                  f"{fmt(s['acked_while_redis_down'])} ops acknowledged while it was down) |")
        md.append(f"| op acknowledgement, made to acked | p50 {s['ack_p50_ms']:.1f} ms, p99 {s['ack_p99_ms']:.1f} ms "
                  f"over the run; before the first kill p50 {s['steady_ack_p50_ms']:.1f} ms, p99 "
                  f"{s['steady_ack_p99_ms']:.1f} ms |")
        md.append(f"| verdict | **{'PASS' if s['pass'] else 'FAIL'}** |")
        md.append("")
        if s["redis_connections_lost"] >= s["clients"] and s.get("haproxy_no_server", 0) > 0:
            md.append("Every person was cut off by the Redis restart: each server's `/health` answers 503 "
                      "while it cannot reach Redis, so HAProxy took every server out and shut their "
                      f"sessions (its log over the run: a server taken out: {s['haproxy_downs']}, no server "
                      f"available: {s['haproxy_no_server']}), although the servers would hold "
                      "changes for 5 s (kClusterRedisGraceMs); the people's reconnect backoff is most of "
                      "the time until they are back.\n")
        elif s["redis_connections_lost"] >= s["clients"]:
            md.append("Every person was cut off by the Redis restart.\n")
        if s.get("resume_failures", 0) > 0:
            md.append(f"{s['resume_failures']} reconnects were not resumed: the server could not look the "
                      "person's resume token up in Redis and welcomed them as someone new (a session-only "
                      "identity), instead of refusing the connection until it could; what they had not "
                      "seen acknowledged, resent under the new identity, was stored a second time "
                      f"({s.get('stored_twice', 0)} ops), and their changes under it were refused.\n")
    if fans:
        loads = sorted({r["offered"] for r in fans})
        n = fans[0]["clients"]
        p = fans[0]["publishers"]
        md.append("### Fan-out over servers\n")
        md.append(f"One wall, N = {n} members, {p} of them publishing the app's stroke batches and chat "
                  "open loop; the members spread evenly (round robin, connected to each server directly) "
                  "over 1, 2 and 3 cluster servers sharing one Redis (appendfsync always), and the single "
                  "server on SQLite (no `--redis`) beside them, each setup fresh, at the same offered "
                  "loads. Latency runs from the intended send time to the delivery. Nothing is pinned: "
                  "servers, Redis and the generator share the machine's cores. Load average "
                  f"{fans[0]['loadavg']} at the first step, {fans[-1]['loadavg']} at the last.\n")
        md.append("| setup | offered deliveries/s | delivered/s | p50 ms | p99 ms | p99.9 ms | lost / not arrived "
                  "| servers' CPU | Redis CPU |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        for load in loads:
            for setup in SETUP_ORDER:
                for r in fans:
                    if r["offered"] != load or r["setup"] != setup:
                        continue
                    md.append(f"| {SETUP_NAME.get(setup, setup)} | {fmt(r['offered'])} | {fmt(r['delivered'])} | "
                              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p999_ms']:.2f} | "
                              f"{fmt(r['lost'])} / {fmt(r['undelivered'])} | "
                              f"{fmt(d(100 * r['server_cpu']))} % | "
                              f"{fmt(d(100 * r['redis_cpu'])) + ' %' if r['storage'] == 'redis' else '—'} |")
        md.append("")
        top = max(loads)
        single = next((r for r in fans if r["offered"] == top and r["setup"] == "sqlite"), None)
        three = next((r for r in fans if r["offered"] == top and r["setup"] == "cluster-3"), None)
        if single and three and single["p99_ms"] > 0:
            ratio = d(three["p99_ms"] / single["p99_ms"])
            md.append(f"At {fmt(top)} deliveries/s offered, three cluster servers delivered "
                      f"{fmt(three['delivered'])}/s at p99 {three['p99_ms']:.2f} ms against the single "
                      f"server's {fmt(single['delivered'])}/s at p99 {single['p99_ms']:.2f} ms "
                      f"({ratio:.1f}× its p99): each op goes through Redis (appended, fsynced, published) "
                      "before any server delivers it.\n")
        md.append("![delivered/s and p99 by setup](cluster.png)\n")
    for j in joins:
        md.append("### Late join from any server\n")
        md.append(f"A wall of {fmt(j['points'])} points ({fmt(j['strokes'])} strokes) drawn through one of two "
                  "cluster servers, then joined by a fresh client (QWebSocket, from TCP connect to the snapshot "
                  "applied to a WallModel): on the server holding the wall, and on the other server started "
                  "afresh before each join, which loads the wall from Redis (its latest snapshot and the log "
                  f"after it) before it can answer. Median of {j['runs']}.\n")
        md.append("| joined on | ms |")
        md.append("|---|---|")
        md.append(f"| the server holding the wall | {j['ms_loaded']:.1f} |")
        md.append(f"| a server loading it from Redis first | **{j['ms_cold']:.1f}** |")
        md.append("")
    return md


def replace_section(text, lines):
    """`text` (a RESULTS.md) with its Cluster section replaced by `lines`, or them appended."""
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith(HEADING):
            skipping = True
            continue
        if skipping and line.startswith("## "):
            skipping = False
        if not skipping:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n\n" + "\n".join(lines)


def only_section(text):
    """The Cluster section of a RESULTS.md (for --check of it alone)."""
    keep, inside = [], False
    for line in text.splitlines():
        if line.startswith(HEADING):
            inside = True
        elif inside and line.startswith("## "):
            inside = False
        keep.append(line if inside else "")
    return "\n".join(keep)


def plot(rows, png):
    """bench/cluster.png: delivered/s and p99 by setup at each offered load (gnuplot)."""
    fans = [r for r in rows if r.get("bench") == "cluster_fanout"]
    if not fans:
        return
    loads = sorted({r["offered"] for r in fans})
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "cluster.dat")
        with open(data, "w") as f:
            for load in loads:
                got = {r["setup"]: r for r in fans if r["offered"] == load}
                vals = [(got[s]["delivered"], got[s]["p99_ms"]) if s in got else (0, 0) for s in SETUP_ORDER]
                f.write(f"{int(load)} " + " ".join(f"{a} {b}" for a, b in vals) + "\n")
        colours = ["#1e88e5", "#fb8c00", "#e53935", "#8e24aa"]
        def bars(first):
            return ", ".join(
                f"'{data}' using {first + 2 * i}{':xtic(1)' if i == 0 else ''} title '{SETUP_NAME[s]}' "
                f"lc rgb '{colours[i]}'" for i, s in enumerate(SETUP_ORDER))
        gp = f"""set terminal pngcairo size 1100,480 noenhanced font 'DejaVu Sans,10'
set output '{png}'
set multiplot layout 1,2 title 'One wall: the single SQLite server vs 1/2/3 cluster servers at the same offered load'
set style data histograms
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xlabel 'offered deliveries/s'
set ylabel 'delivered/s'
set yrange [0:*]
set title 'delivered/s (higher is better)'
plot {bars(2)}
set ylabel 'p99 delivery latency, ms'
set yrange [0:*]
set title 'p99 latency (lower is better)'
plot {bars(3)}
unset multiplot
"""
        try:
            subprocess.run(["gnuplot"], input=gp.encode(), check=True)
        except Exception:
            subprocess.run(["gnuplot"], input=gp.replace("pngcairo", "png").encode(), check=True)
