"""All benchmarks in one run against the same local stack; writes
bench/RESULTS.md with one table and prints it.

    .venv-ckan2.12.0/bin/python bench/run_all.py [--quick]

It starts the stack (scripts/stack.sh up), runs each bench as a subprocess
with --json (its output shown live) and exits non-zero if any of them
failed, after writing what was measured. --quick uses small sizes for a
smoke check; the figures of the default (full) sizes are the ones to quote.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
RESULTS = BENCH / "RESULTS.md"

# name, script, arguments for the full and the quick run
BENCHES = [
    ("upload", "bench_upload.py", ["--rounds", "3"],
     ["--size-mib", "128", "--rounds", "1"]),
    ("sha256", "bench_sha256.py", [], ["--size-mib", "128", "--rounds", "1"]),
    ("latency", "bench_create_latency.py", ["--requests", "200"],
     ["--requests", "40"]),
    ("migrate", "bench_migrate.py", [], ["--small", "200", "--large", "2"]),
    # single downloads of 4 GiB: at page-cache and loopback speeds (3 to
    # 10 GB/s here) the one request a redirect or an X-Accel-Redirect
    # hand-off costs (10 to 30 ms) would be a tenth of a 1 GiB transfer,
    # which says nothing about the files of tens of GB the site is for
    ("download", "bench_download.py", ["--rounds", "3", "--size-mib", "4096"],
     ["--size-mib", "128", "--rounds", "1", "--archive-mib", "32"]),
    ("deploy", "bench_deploy.py", ["--rounds", "3", "--size-mib", "4096"],
     ["--size-mib", "64", "--archive-mib", "16", "--rounds", "1"]),
    ("download-list", "bench_download_list.py", ["--requests", "200"],
     ["--requests", "40"]),
    ("download-list-preview", "bench_download_list_preview.py", [],
     ["--files", "1000", "--datasets", "20", "--requests", "20",
      "--full-searches", "1"]),
    ("client", "bench_client.py", ["--rounds", "7"],
     ["--size-mib", "32", "--rounds", "1"]),
    ("storage", "bench_storage.py", ["--requests", "100"],
     ["--requests", "20"]),
    ("archive-request", "bench_archive_request.py", ["--requests", "50"],
     ["--requests", "20"]),
    ("bagit", "bench_bagit.py", ["--rounds", "5"],
     ["--size-mib", "32", "--rounds", "1"]),
    ("fixity", "bench_fixity.py", ["--rounds", "5"],
     ["--size-mib", "128", "--rounds", "1"]),
    ("audit", "bench_audit.py", ["--requests", "200"],
     ["--requests", "40"]),
    ("scale", "bench_scale.py", [], ["--small", "10000", "--large", "20000"]),
    ("browser-upload", "bench_browser_upload.py", ["--size-mib", "2048"],
     ["--size-mib", "256"]),
]


def run_live(cmd: list[str], env: dict | None = None) -> int:
    """Run cmd, passing its output through as it comes."""
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               bufsize=1, cwd=REPO, env=env)
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
    return process.wait()


def first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0] if out else None


def machine(python: str, upload: dict | None) -> list[tuple[str, str]]:
    cpu = "?"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kib = 0
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    os_name = "?"
    if os.path.exists("/etc/os-release"):
        for line in pathlib.Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    # versions as the benches see them: from the venv's Python
    versions = first_line([python, "-c",
                           "import platform, importlib.metadata as m; "
                           "print(platform.python_version(), "
                           "m.version('ckan'), m.version('boto3'))"])
    py_version, ckan_version, boto3_version = \
        (versions or "? ? ?").split()
    rclone = (upload or {}).get("rclone_version") or \
        (first_line(["rclone", "version"]) if shutil.which("rclone")
         else None) or "not installed"
    commit = first_line(["git", "-C", str(REPO), "rev-parse", "--short",
                         "HEAD"]) or "?"
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("RAM", f"{ram_kib / 1024**2:.1f} GiB"),
        ("OS / kernel", f"{os_name} / Linux {platform.release()}"),
        ("Python", py_version),
        ("CKAN", ckan_version),
        ("boto3", boto3_version),
        ("rclone", rclone),
        ("radosgw", first_line(["radosgw", "--version"]) or "?"),
        ("Commit", f"{commit} (plus any uncommitted changes)"),
    ]


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table_rows(res: dict[str, dict | None]) -> list[list[str]]:
    """Measure | Figure | Baseline | Ratio | Target | Met? per row; a bench
    that did not deliver gives rows that say so."""
    rows: list[list[str]] = []
    missing = ["not measured", "—", "—"]

    up = res.get("upload")
    if up:
        best, mib = up["best"], up["size_mib"]
        size = f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"
        b3, dep = best["boto3"], best.get("depot")
        base = f"boto3 upload_file {b3['mb_per_s']:.1f} MB/s"
        if dep:
            paired = dep.get("paired_ratios") or [dep["ratio_to_boto3"]]
            median = dep.get("median_paired_ratio", dep["ratio_to_boto3"])
            rows.append([f"Upload {size}: depot (verified), median of "
                         f"{len(paired)} paired rounds",
                         f"best {dep['mb_per_s']:.1f} MB/s",
                         f"boto3 upload_file, best {b3['mb_per_s']:.1f} MB/s",
                         f"{median:.2f} (rounds: "
                         f"{', '.join(f'{r:.2f}' for r in paired)}; "
                         f"best/best {dep['ratio_to_boto3']:.2f})",
                         "≥ 0.9", yes(median >= 0.9)])
            if "server_cpu_s" in dep:
                rows.append([
                    "Upload CPU s: client + S3 server (same 2 cores)",
                    f"depot {dep['cpu_s']:.1f} + {dep['server_cpu_s']:.1f}",
                    f"boto3 {b3['cpu_s']:.1f} + {b3['server_cpu_s']:.1f}",
                    f"{(dep['cpu_s'] + dep['server_cpu_s']) / (b3['cpu_s'] + b3['server_cpu_s']):.2f}",
                    "— (informative)", "—"])
        rc = best.get("rclone")
        if rc:
            rows.append([f"Upload {size}: rclone copyto (defaults)",
                         f"{rc['mb_per_s']:.1f} MB/s", base,
                         f"{rc['ratio_to_boto3']:.2f}", "— (informative)",
                         "—"])
        if dep:
            rows.append(["Depot upload: bytes read per byte uploaded",
                         f"{dep['read_per_byte']:.3f} (from disk "
                         f"{dep['disk_read_per_byte']:.3f})",
                         f"boto3 {b3['read_per_byte']:.3f}",
                         f"{dep['read_per_byte'] / b3['read_per_byte']:.2f}",
                         "1.0 (≤ 1.01)", yes(dep["read_per_byte"] <= 1.01)])
            rows.append(["Depot upload: peak memory",
                         f"{dep['peak_rss_mb']:.0f} MB",
                         f"boto3 {b3['peak_rss_mb']:.0f} MB",
                         f"{dep['peak_rss_mb'] / b3['peak_rss_mb']:.2f}",
                         "< 200 MB", yes(dep["peak_rss_mb"] < 200)])
    else:
        rows += [["Upload: depot vs boto3", *missing, "≥ 0.9", "—"],
                 ["Upload: rclone vs boto3", *missing, "—", "—"],
                 ["Depot upload: bytes read per byte", *missing, "1.0", "—"],
                 ["Depot upload: peak memory", *missing, "< 200 MB", "—"]]

    sha = res.get("sha256")
    if sha:
        rows.append([f"sha256 of {sha['size'] / 1024**2:.0f} MiB: depot",
                     f"{sha['depot_mb_per_s']:.0f} MB/s",
                     f"sha256sum {sha['sha256sum_mb_per_s']:.0f} MB/s",
                     f"{sha['ratio']:.2f}", "≥ 0.9", yes(sha["ratio"] >= 0.9)])
    else:
        rows.append(["sha256: depot vs sha256sum", *missing, "≥ 0.9", "—"])

    lat = res.get("latency")
    if lat:
        on, off = lat["on"], lat["off"]
        rows.append([
            f"resource_create + {lat['size_bytes'] // 1000} kB upload: "
            f"added latency, median of {lat['requests']}",
            f"+{lat['diff_median_ms']:.1f} ms (plugin on {on['median_ms']:.1f}"
            f" ms, p90 {on['p90_ms']:.1f})",
            f"plugin off {off['median_ms']:.1f} ms (p90 {off['p90_ms']:.1f})",
            f"{on['median_ms'] / off['median_ms']:.2f}", "< 5 ms",
            yes(lat["diff_median_ms"] < 5)])
    else:
        rows.append(["resource_create: added latency", *missing, "< 5 ms",
                     "—"])

    mig = res.get("migrate")
    if mig:
        runs = mig["runs"]
        s1, s8, l1, l8 = runs[1], runs[2], runs[3], runs[4]
        rows.append([
            f"Migration, {s8['resources']} small files "
            f"({s8['size'] / 1000:.0f} kB): --jobs 8",
            f"{s8['resources_per_s']:.1f} res/s",
            f"--jobs 1 {s1['resources_per_s']:.1f} res/s",
            f"{mig['speedup_small']:.2f}× speed-up", "— (informative)", "—"])
        rows.append([
            f"Migration, {l8['resources']} large files "
            f"({l8['size'] / 1024**2:.0f} MiB): --jobs 8",
            f"{l8['mb_per_s']:.1f} MB/s", f"--jobs 1 {l1['mb_per_s']:.1f} MB/s",
            f"{mig['speedup_large']:.2f}× speed-up", "— (informative)", "—"])
        flat = mig["memory_large_peak_mb"] / mig["memory_small_peak_mb"]
        rows.append([
            f"Migration peak memory, {mig['memory_large_count']} vs "
            f"{mig['memory_small_count']} resources",
            f"{mig['memory_large_peak_mb']:.0f} MB "
            f"({mig['memory_large_count']})",
            f"{mig['memory_small_peak_mb']:.0f} MB "
            f"({mig['memory_small_count']})",
            f"{flat:.2f}", "flat (≤ 1.1×)", yes(flat <= 1.1)])
    else:
        rows += [["Migration, small files: --jobs 8 vs 1", *missing, "—", "—"],
                 ["Migration, large files", *missing, "—", "—"],
                 ["Migration peak memory", *missing, "flat", "—"]]
    rows += download_rows(res.get("download"), missing)
    rows += deploy_rows(res.get("deploy"), missing)
    rows += download_list_rows(res.get("download-list"), missing)
    rows += preview_rows(res.get("download-list-preview"), missing)
    rows += storage_rows(res.get("storage"), missing)
    rows += client_rows(res.get("client"), missing)
    rows += archive_request_rows(res.get("archive-request"), missing)
    rows += bagit_rows(res.get("bagit"), missing)
    rows += fixity_rows(res.get("fixity"), missing)
    rows += audit_rows(res.get("audit"), missing)
    rows += scale_rows(res.get("scale"), missing)
    rows += browser_upload_rows(res.get("browser-upload"), missing)
    return rows


def scale_rows(sc: dict | None, missing: list[str]) -> list[list[str]]:
    """Each maintenance command at the large site against the small one
    (bench_scale.py): wall time (and net of CKAN's start-up), peak
    memory."""
    if not sc:
        return [["Maintenance commands at 100,000 vs 10,000 resources",
                 *missing, "time ≤ 11×, memory ≤ 1.2×", "—"]]
    big, small = f"{sc['large']:,}", f"{sc['small']:,}"
    base = sc["baseline"]
    rows = []
    for name, c in sc["commands"].items():
        rows.append([
            f"ckan {name}: {big} vs {small} resources, wall time",
            f"{c['large']['seconds']:.1f} s",
            f"{c['small']['seconds']:.1f} s (start-up, ckan jobs list: "
            f"{base['large']['seconds']:.1f} s / "
            f"{base['small']['seconds']:.1f} s)",
            f"{c['time_ratio_raw']:.2f} (net of start-up "
            + (f"{c['time_ratio_net']:.2f})"
               if c["small"]["seconds"] - base["small"]["seconds"] > 1
               else "—: within the start-up's variation)"),
            f"≤ {sc['target_time_ratio']:.1f}×", yes(c["time_ok"])])
        rows.append([
            f"ckan {name}: {big} vs {small} resources, peak memory",
            f"{c['large']['peak_rss_mb']:.0f} MB",
            f"{c['small']['peak_rss_mb']:.0f} MB (ckan jobs list "
            f"{base['small']['peak_rss_mb']:.0f} MB)",
            f"{c['memory_ratio']:.2f}", f"≤ {sc['target_memory_ratio']}×",
            yes(c["memory_ok"])])
    return rows


def audit_rows(au: dict | None, missing: list[str]) -> list[list[str]]:
    """The download redirect of a private resource with and without the
    audit trail's grant row (bench_audit.py)."""
    label = "Audit trail added to a private resource's download redirect"
    if not au:
        return [[label, *missing, "< 5 ms", "—"]]
    on, off = au["audit"], au["no-audit"]
    return [[
        f"{label}: difference of p50, {on['samples']} requests each",
        f"+{au['added_ms']:.2f} ms (with the audit {on['p50_ms']:.1f} ms, "
        f"p95 {on['p95_ms']:.1f})",
        f"without {off['p50_ms']:.1f} ms (p95 {off['p95_ms']:.1f})",
        f"{au['ratio']:.3f}", f"< {au['target_ms']:.0f} ms",
        yes(au["added_ms"] < au["target_ms"])]]


def browser_upload_rows(bu: dict | None,
                        missing: list[str]) -> list[list[str]]:
    """The resource form's uploader in headless Chromium against boto3
    (bench_browser_upload.py)."""
    if not bu:
        return [["Browser upload (Chromium, Uppy) vs boto3", *missing,
                 "≥ 0.8", "—"]]
    best = bu["best"]
    size = f"{bu['size_mib'] / 1024:g} GiB"
    return [[f"Browser upload {size} (headless Chromium, Uppy, MD5 per part "
             f"and sha256 in a Web Worker); CPU s browser "
             f"{best['browser_cpu_s']:.1f}, site {best['site_cpu_s']:.1f}, "
             f"radosgw {best['s3_server_cpu_s']:.1f}; bytes through CKAN "
             f"{best['bytes_through_ckan']:,} (requests of the actions only)",
             f"{best['browser_mb_per_s']:.1f} MB/s",
             f"boto3 upload_file {best['boto3_mb_per_s']:.1f} MB/s",
             f"{best['ratio']:.2f}", "≥ 0.8", yes(best["ratio"] >= 0.8)]]


def archive_request_rows(ar: dict | None,
                         missing: list[str]) -> list[list[str]]:
    if not ar:
        return [["/download/archive with 5,000 ids: p50", *missing,
                 "< 100 ms", "—"]]
    one = ar["one"]
    return [[
        f"/download/archive with {ar['ids']} {what}: p50 (p95), "
        f"{ar[name]['samples']} requests",
        f"{ar[name]['p50_ms']:.1f} ms ({ar[name]['p95_ms']:.1f})",
        f"1 id {one['p50_ms']:.1f} ms ({one['p95_ms']:.1f})",
        f"{ar['ratios'][f'{name}_to_one']:.2f}",
        f"< {ar['target_p50_ms']:.0f} ms",
        yes(ar[name]["p50_ms"] < ar["target_p50_ms"])]
        for name, what in (("copies", "copies of 1 id"),
                           ("distinct", "distinct ids (413)"))]


def bagit_rows(bg: dict | None, missing: list[str]) -> list[list[str]]:
    """A BagIt bag (zip) against the plain zip (bench_bagit.py)."""
    if not bg:
        return [["BagIt bag (zip) through CKAN vs plain zip", *missing,
                 "≥ 0.95", "—"]]
    b = bg["bag_vs_plain_zip"]
    return [[f"BagIt bag (zip) of 4 x {bg['size_mib']} MiB through CKAN, "
             f"median of {len(b['paired_ratios'])} paired rounds",
             f"best {max(r['bag'] for r in b['rounds']):.0f} MB/s",
             f"plain zip of the same dataset, best "
             f"{max(r['plain'] for r in b['rounds']):.0f} MB/s",
             f"{b['median_ratio']:.2f} (rounds: "
             f"{', '.join(f'{x:.2f}' for x in b['paired_ratios'])})",
             "≥ 0.95", yes(b["median_ratio"] >= 0.95)]]


def fixity_rows(fx: dict | None, missing: list[str]) -> list[list[str]]:
    """ckan dcor-depot-fixity's reads against the plain tools
    (bench_fixity.py)."""
    if not fx:
        return [["Fixity, depot copy vs sha256sum", *missing, "≥ 0.9", "—"],
                ["Fixity, object vs GET + sha256", *missing, "≥ 0.9", "—"]]
    size = f"{fx['size'] / 1024**2:.0f} MiB"
    speed = fx["mb_per_s"]
    def rounds(ratios: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in ratios)
    return [[f"Fixity of a {size} depot copy, median of {fx['rounds']} "
             f"paired rounds", f"best {speed['depot']:.0f} MB/s",
             f"sha256sum, best {speed['sha256sum']:.0f} MB/s",
             f"{fx['depot_ratio']:.2f} (rounds: "
             f"{rounds(fx['depot_ratios'])})", "≥ 0.9",
             yes(fx["depot_ratio"] >= 0.9)],
            [f"Fixity of a {size} object, median of {fx['rounds']} paired "
             f"rounds", f"best {speed['object']:.0f} MB/s",
             f"GET + sha256, best {speed['get']:.0f} MB/s",
             f"{fx['object_ratio']:.2f} (rounds: "
             f"{rounds(fx['object_ratios'])})", "≥ 0.9",
             yes(fx["object_ratio"] >= 0.9)]]


def client_rows(cl: dict | None, missing: list[str]) -> list[list[str]]:
    if not cl:
        return [["dcor-depot download vs boto3 download_file", *missing,
                 "≥ 0.9", "—"],
                ["dcor-depot upload vs boto3 upload_file", *missing, "≥ 0.9",
                 "—"],
                ["dcor-depot peak memory", *missing, "< 200 MB", "—"]]
    size = f"{cl['files']} x {cl['file_bytes'] / 1024**2:.0f} MiB"
    rows = []
    for what, boto3_call, extra in (
            ("download", "download_file", ", every byte verified"),
            ("upload", "upload_file", ", sha256 and part MD5s")):
        c = cl[what]
        cpu = {who: f" (CPU per GiB {c[f'{who}_cpu_s_per_gib']:.2f} s, S3 "
                    f"server {c[f'{who}_s3_cpu_s_per_gib']:.2f} s)"
               if f"{who}_cpu_s_per_gib" in c else ""
               for who in ("client", "boto3")}
        rows.append([
            f"dcor-depot {what} of {size}{extra}, median of "
            f"{len(c['paired_ratios'])} paired rounds",
            f"best {c['client_mb_per_s']:.0f} MB/s{cpu['client']}",
            f"boto3 {boto3_call} (defaults), one after the other, best "
            f"{c['boto3_mb_per_s']:.0f} MB/s{cpu['boto3']}",
            f"{c['median_ratio']:.2f} (rounds: "
            f"{', '.join(f'{x:.2f}' for x in c['paired_ratios'])})",
            "≥ 0.9", yes(c["median_ratio"] >= 0.9)])
    rows.append(["dcor-depot peak memory (RSS), upload and download",
                 f"{cl['client_peak_rss_mb']:.0f} MB", "—", "—", "< 200 MB",
                 yes(cl["client_peak_rss_mb"] < 200)])
    return rows


def download_rows(dl: dict | None, missing: list[str]) -> list[list[str]]:
    if not dl:
        return [["Download through CKAN (redirect) vs plain S3 GET", *missing,
                 "≥ 0.95", "—"],
                ["Archives through CKAN vs plain GETs", *missing, "≥ 0.8",
                 "—"]]
    r = dl["resource"]
    size = f"{r['size'] / 1024**3:.0f} GiB" if r["size"] >= 1024**3 \
        else f"{r['size'] / 1024**2:.0f} MiB"
    rows = [
        [f"Download {size} through CKAN's route (redirect followed), median "
         f"of {len(r['paired_ratios'])} paired rounds",
         f"best {r['route_mb_per_s']:.0f} MB/s",
         f"plain GET of the object's S3 URL, best "
         f"{r['plain_mb_per_s']:.0f} MB/s",
         f"{r['median_ratio']:.2f} (rounds: "
         f"{', '.join(f'{x:.2f}' for x in r['paired_ratios'])})",
         "≥ 0.95", yes(r["median_ratio"] >= 0.95)],
        ["Download: bytes sent by CKAN per byte downloaded",
         f"{r['ckan_bytes_per_byte']:.2e} ({r['ckan_bytes_written']} bytes, "
         "the redirect)", "—", "—", "0", yes(r["ckan_bytes_per_byte"] < 1e-4)],
        ["Download: CKAN peak memory, 10 downloads at once",
         f"{r['peak_rss_mb_10_parallel']:.0f} MB",
         f"idle {r['idle_rss_mb']:.0f} MB",
         f"{r['peak_rss_mb_10_parallel'] / r['idle_rss_mb']:.2f}",
         "— (informative)", "—"]]
    for key, source, target in (
            ("archive", "members from their local copies (the default)",
             "≥ 0.8"),
            ("archive_s3", "members from S3 (archive_providers = s3)",
             "— (informative)")):
        rows += archive_rows(dl.get(key), source, target)
    return rows


def deploy_rows(dep: dict | None, missing: list[str]) -> list[list[str]]:
    """The reference deployment (nginx -> uWSGI, bench_deploy.py)."""
    if not dep:
        return [["Depot download through nginx (X-Accel-Redirect) vs nginx "
                 "static", *missing, "≥ 0.95", "—"],
                ["Archive through nginx -> uWSGI vs plain GETs", *missing,
                 "≥ 0.8", "—"],
                ["Download redirect through nginx vs plain S3 GET", *missing,
                 "≥ 0.95", "—"]]

    def size_of(size: int) -> str:
        return f"{size / 1024**3:.0f} GiB" if size >= 1024**3 \
            else f"{size / 1024**2:.0f} MiB"

    def rounds(entry: dict) -> str:
        return (f"{entry['median_ratio']:.2f} (rounds: "
                f"{', '.join(f'{x:.2f}' for x in entry['paired_ratios'])})")

    depot, archive, redirect = dep["depot"], dep["archive"], dep["redirect"]
    procs = dep["processes"]
    mb = archive["member_bytes"] / archive["members"] / 1e6
    return [
        [f"Depot download {size_of(depot['size'])} through nginx "
         "(X-Accel-Redirect from uWSGI), median of "
         f"{len(depot['paired_ratios'])} paired rounds",
         f"best {depot['accel_mb_per_s']:.0f} MB/s",
         f"nginx static location of the same file, best "
         f"{depot['static_mb_per_s']:.0f} MB/s", rounds(depot), "≥ 0.95",
         yes(depot["median_ratio"] >= 0.95)],
        [f"Archive (zip) of {archive['members']} x {mb:.0f} MB through "
         f"nginx -> uWSGI ({procs} processes), members from the depot, "
         f"median of {len(archive['paired_ratios'])} paired rounds",
         f"{archive['archive_mb_per_s']:.0f} MB/s",
         f"sum of plain GETs {archive['plain_mb_per_s']:.0f} MB/s",
         rounds(archive), "≥ 0.8", yes(archive["median_ratio"] >= 0.8)],
        ["Archive (zip) through nginx -> uWSGI: memory during the stream",
         f"uWSGI +{archive['uwsgi_over_idle_mb']:.0f} MB, nginx "
         f"+{archive['nginx_over_idle_mb']:.0f} MB over idle",
         f"idle: uWSGI {archive['uwsgi_idle_mb']:.0f} MB ({procs} "
         f"processes), nginx {archive['nginx_idle_mb']:.0f} MB", "—",
         "< +100 MB each",
         yes(max(archive["uwsgi_over_idle_mb"],
                 archive["nginx_over_idle_mb"]) < 100)],
        [f"Download {size_of(redirect['size'])} through CKAN's route behind "
         f"nginx (redirect followed), median of "
         f"{len(redirect['paired_ratios'])} paired rounds",
         f"best {redirect['route_mb_per_s']:.0f} MB/s",
         f"plain GET of the object's S3 URL, best "
         f"{redirect['plain_mb_per_s']:.0f} MB/s", rounds(redirect), "≥ 0.95",
         yes(redirect["median_ratio"] >= 0.95)]]


def archive_rows(archive: dict | None, source: str,
                 target: str) -> list[list[str]]:
    rows = []
    for comptype in ("zip", "tar") if archive else ():
        a = archive[comptype]
        last = a["rounds"][-1]
        mb = archive["member_bytes"] / archive["members"] / 1e6
        ratio = a["median_ratio"]
        rows.append([
            f"Archive ({comptype}) of {archive['members']} x {mb:.0f} MB "
            f"through CKAN, {source}, median of "
            f"{len(a['paired_ratios'])} paired rounds",
            f"{max(p['archive'] for p in a['rounds']):.0f} MB/s (CPU per "
            f"GiB: CKAN {last['ckan_cpu_s_per_gib']:.2f} s, S3 "
            f"{last['s3_cpu_s_per_gib']:.2f} s, client "
            f"{last['client_cpu_s_per_gib']:.2f} s)",
            f"sum of plain GETs {max(p['plain'] for p in a['rounds']):.0f} "
            "MB/s", f"{ratio:.2f} (rounds: "
            f"{', '.join(f'{x:.2f}' for x in a['paired_ratios'])})", target,
            yes(ratio >= 0.8) if target.startswith("≥") else "—"])
        rows.append([f"Archive ({comptype}), {source}: CKAN memory during "
                     "the stream",
                     f"+{a['peak_rss_over_idle_mb']:.0f} MB over idle", "—",
                     "—", "< +100 MB", yes(a["peak_rss_over_idle_mb"] < 100)])
        rows.append([f"Archive ({comptype}), {source}: bytes read from "
                     "storage for a Range of the last MB",
                     f"{a['range_bytes_read'] / 1e6:.2f} MB "
                     f"(HTTP {a['range_status']})", "—", "—", "≤ 2 MB",
                     yes(a["range_bytes_read"] <= 2e6)])
    return rows


def download_list_rows(dl: dict | None,
                       missing: list[str]) -> list[list[str]]:
    if not dl:
        return [["download_list_show, 100 files: p50", *missing, "< 50 ms",
                 "—"],
                ["Download list page, 100 files: p50", *missing,
                 "— (informative)", "—"]]
    show, base = dl["show"], dl["package_show"]
    page, dash = dl["page"], dl["dashboard"]
    return [
        [f"download_list_show, {dl['items']} files: p50 (p95), "
         f"{show['samples']} requests",
         f"{show['p50_ms']:.1f} ms ({show['p95_ms']:.1f})",
         f"package_show of 10 files {base['p50_ms']:.1f} ms "
         f"({base['p95_ms']:.1f})",
         f"{dl['ratios']['show_to_package_show']:.2f}", "< 50 ms",
         yes(show["p50_ms"] < dl["target_p50_ms"])],
        [f"Download list page, {dl['items']} files: p50 (p95)",
         f"{page['p50_ms']:.1f} ms ({page['p95_ms']:.1f})",
         f"/dashboard/datasets {dash['p50_ms']:.1f} ms "
         f"({dash['p95_ms']:.1f})",
         f"{dl['ratios']['page_to_dashboard']:.2f}", "— (informative)",
         "—"]]


def storage_rows(st: dict | None, missing: list[str]) -> list[list[str]]:
    if not st:
        return [["circle_storage_show, circle of 10,000 resources: p50",
                 *missing, "< 100 ms", "—"],
                ["/metrics scrape at 100,000 resources: p50", *missing,
                 "< 250 ms", "—"]]
    small, large, ratios = st["small"], st["large"], st["ratios"]
    show, org = small["show"], small["organization_show"]
    scrape, status = large["scrape"], large["status_show"]
    return [
        [f"circle_storage_show, circle of 10,000 resources: p50 (p95), "
         f"{show['samples']} requests",
         f"{show['p50_ms']:.1f} ms ({show['p95_ms']:.1f})",
         f"organization_show of the circle {org['p50_ms']:.1f} ms "
         f"({org['p95_ms']:.1f})",
         f"{ratios['show_to_organization_show_at_10k']:.2f}", "< 100 ms",
         yes(show["p50_ms"] < 100)],
        [f"/metrics scrape at 100,000 resources: p50 (p95), "
         f"{scrape['samples']} requests",
         f"{scrape['p50_ms']:.1f} ms ({scrape['p95_ms']:.1f}); at 10,000 "
         f"{small['scrape']['p50_ms']:.1f} ms",
         f"status_show {status['p50_ms']:.1f} ms",
         f"{ratios['scrape_to_status_show_at_100k']:.2f} (100k/10k "
         f"{ratios['scrape_100k_to_10k']:.2f})", "< 250 ms",
         yes(scrape["p50_ms"] < 250)],
        ["Quota check added to resource_upload_s3_urls (circle of 10,000 "
         "resources): difference of p50",
         f"{st['quota_check_added_ms']:.1f} ms",
         f"without a quota "
         f"{st['quota_check']['without_quota']['p50_ms']:.1f} ms", "—",
         "< 5 ms", yes(st["quota_check_added_ms"] < 5)]]


def preview_rows(pv: dict | None, missing: list[str]) -> list[list[str]]:
    if not pv:
        return [["download_list_preview of a query matching 10,000 files: "
                 "p50", *missing, "< 200 ms", "—"]]
    preview, count = pv["preview"], pv["count_only"]
    return [[
        f"download_list_preview of a query matching {pv['files']} files "
        f"(in {pv['datasets']} datasets): p50 (p95), "
        f"{preview['samples']} requests",
        f"{preview['p50_ms']:.1f} ms ({preview['p95_ms']:.1f})",
        f"resource_search count only (limit 0) {count['p50_ms']:.1f} ms; "
        f"every match {pv['all_matches']['p50_ms']:.0f} ms",
        f"{pv['ratios']['preview_to_count_only']:.2f} "
        f"({pv['ratios']['preview_to_all_matches']:.3f})", "< 200 ms",
        yes(pv["met"])]]


def markdown_table(rows: list[list[str]]) -> str:
    head = ["Measure", "Figure", "Baseline (same run)", "Ratio", "Target",
            "Met?"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


# the docs page whose latest table --update-docs replaces
TABLE_PAGE = REPO / "doc" / "benchmarks.rst"
TABLE_START = ".. bench-table-start"
TABLE_END = ".. bench-table-end"


def rst_table(rows: list[list[str]], info: list[tuple[str, str]],
              when: str, command: str) -> str:
    """The table as reStructuredText, for the docs' benchmarks page."""
    def cell(text: str) -> str:
        return '"' + text.replace("**", "").replace('"', '""') + '"'
    head = ["Measure", "Figure", "Baseline (same run)", "Ratio", "Target",
            "Met?"]
    machine_line = "; ".join(f"{key}: {value}" for key, value in info
                             if key not in ("Commit",))
    lines = [f"Taken {when} with ``{command}`` on: {machine_line}.", "",
             ".. csv-table::", "   :header: " + ", ".join(map(cell, head)),
             ""]
    lines += ["   " + ", ".join(map(cell, row)) for row in rows]
    return "\n".join(lines)


def update_table_page(block: str) -> None:
    """Replaces what stands between the page's table markers."""
    text = TABLE_PAGE.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{TABLE_PAGE.relative_to(REPO)} has no "
                         f"{TABLE_START} / {TABLE_END} markers")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    TABLE_PAGE.write_text(f"{head}{TABLE_START}\n\n{block}\n\n"
                          f"{TABLE_END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a smoke check, not figures")
    # --readme: the option's name while the table stood in README.rst
    parser.add_argument("--update-docs", "--readme", dest="update_docs",
                        action="store_true",
                        help="also write the table into doc/benchmarks.rst "
                             "(between its bench-table markers); --readme "
                             "is an older name of this option")
    args = parser.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        shown = os.path.relpath(sys.executable, REPO)
    except ValueError:
        shown = sys.executable
    command = shlex.join([shown if not shown.startswith("..")
                          else sys.executable, "bench/run_all.py",
                          *sys.argv[1:]])

    print("== scripts/stack.sh up", flush=True)
    failed: list[str] = []
    if run_live(["bash", str(REPO / "scripts" / "stack.sh"), "up"]) != 0:
        raise SystemExit("scripts/stack.sh up failed; nothing measured")
    venv = subprocess.run(["bash", str(REPO / "scripts" / "stack.sh"),
                           "venv"], capture_output=True, text=True,
                          check=True).stdout.strip()
    python = str(pathlib.Path(venv) / "bin" / "python")

    results: dict[str, dict | None] = {}
    timings: list[str] = []
    # children print as they go, not when their buffer fills
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory(prefix="dcor-bench-all-") as folder:
        for name, script, full, quick in BENCHES:
            out = os.path.join(folder, f"{name}.json")
            cmd = [python, str(BENCH / script),
                   *(quick if args.quick else full), "--json", out]
            shown_cmd = shlex.join(["bench/" + script, *cmd[2:-2]])
            print(f"\n== {name}: {shown_cmd}", flush=True)
            start = time.monotonic()
            code = run_live(cmd, env=env)
            seconds = time.monotonic() - start
            results[name] = None
            if code == 0 and os.path.exists(out):
                with open(out) as handle:
                    results[name] = json.load(handle)
            else:
                failed.append(name)
            timings.append(f"`{shown_cmd}` "
                           f"{'ok' if name not in failed else '**FAILED**'}"
                           f" ({seconds:.0f} s)")

    table = markdown_table(table_rows(results))
    info = machine(python, results.get("upload"))
    sizes = "quick: a smoke check with small sizes" if args.quick \
        else "full sizes"
    text = "\n".join([
        "# Benchmark results",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
        *[f"- {key}: {value}" for key, value in info],
        f"- Command: `{command}` ({sizes})",
        f"- Benches (each with --json): {'; '.join(timings)}",
        "- S3: the local Ceph radosgw of scripts/stack.sh "
        "(http://127.0.0.1:7480, objects in RAM); page cache dropped "
        "before each upload and hash",
        "",
        table,
        "",
        "Ratio is Figure / Baseline (for the latency row: median with the "
        "plugin / median without). Uploads: best of the rounds, each "
        "method in a fresh process. Everything ran on one shared machine "
        "in one run, so figures are noisy; compare within the table.",
        "",
    ])
    RESULTS.write_text(text)
    print(f"\n== wrote {RESULTS.relative_to(REPO)}\n")
    if args.update_docs:
        update_table_page(rst_table(table_rows(results), info,
                                    started.strftime("%Y-%m-%d"), command))
        print(f"== updated the table in {TABLE_PAGE.relative_to(REPO)}\n")
    print(table)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
