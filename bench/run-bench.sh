#!/bin/bash
# run-bench.sh: what 'make bench' runs (see README.md).
# Copyright (C) 2026 the tlsguard authors.  BSD-3-Clause, see COPYING.
#
# Usage: run-bench.sh WORKDIR RESULTS-FILE
#
# Set by bench/Makefile: NBDKIT FIO VALGRIND PSKTOOL FILTER TG_BENCH
# NBDKIT_VERSION BENCH_ROUNDS BENCH_TIME BENCH_FIO_TIME BENCH_FIO_RUNS
# BENCH_FIO_RUNS_256K BENCH_MODE.  Optional: SERVER_CPU CLIENT_CPU
# BENCH_RSS_CONNS BENCH_CG_N BENCH_CG_CONN BENCH_HEAP_K BENCH_KEEP (keep
# WORKDIR: logs, callgrind and memcheck output).
#
# Every nbdkit runs with -t 1 on SERVER_CPU, every client on
# CLIENT_CPU, and everything talks over Unix sockets in WORKDIR.  Only
# processes started here are stopped, by PID.
#
# BENCH_MODE=side-by-side (the default): in each round, every
# configuration of a workload runs at the same time, for the same
# BENCH_TIME seconds, from one client (one tg-bench event loop, or one
# fio with a job per server: BENCH_FIO_RUNS runs of BENCH_FIO_TIME
# seconds for 4 KiB reads, BENCH_FIO_RUNS_256K for 256 KiB reads,
# averaged).  BENCH_MODE=sequential: the same runs, one
# configuration at a time, BENCH_TIME seconds each.

set -euo pipefail

work=$1
results=$2
rounds=${BENCH_ROUNDS:-12}
mode=${BENCH_MODE:-side-by-side}
case $mode in
side-by-side) T=${BENCH_TIME:-3}; T_fio=${BENCH_FIO_TIME:-2.5}
              fio_runs_4k=${BENCH_FIO_RUNS:-3}
              fio_runs_256k=${BENCH_FIO_RUNS_256K:-6} ;;
sequential) T=${BENCH_TIME:-0.5}; T_fio=${BENCH_FIO_TIME:-$T}
            fio_runs_4k=${BENCH_FIO_RUNS:-1}
            fio_runs_256k=${BENCH_FIO_RUNS_256K:-1} ;;
*) echo "bench: BENCH_MODE must be side-by-side or sequential, not '$mode'" >&2
   exit 1 ;;
esac
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
rss_conns=${BENCH_RSS_CONNS:-10000}
cg_n=${BENCH_CG_N:-2000}
cg_conn=${BENCH_CG_CONN:-50}
heap_k=${BENCH_HEAP_K:-100}
depth=16

: "${NBDKIT:?}" "${FILTER:?}" "${TG_BENCH:?}"
FIO=${FIO:-}
VALGRIND=${VALGRIND:-}
PSKTOOL=${PSKTOOL:-}

die () { echo "bench: $*" >&2; exit 1; }
note () { echo "bench: $*" >&2; }

[ -x "$NBDKIT" ] || die "nbdkit not found"
[ -f "$FILTER" ] || die "filter not built: $FILTER"
[ -n "$PSKTOOL" ] || die "psktool not found (gnutls-bin); TLS runs need it"
[ -n "$FIO" ] || die "fio not found; install fio 3.33 with the nbd engine"
[ -n "$VALGRIND" ] || die "valgrind not found"
command -v taskset >/dev/null || die "taskset not found (util-linux)"
[ "$(nproc)" -ge 2 ] || die "need 2 CPUs: one for nbdkit, one for the client"
[ "$rounds" -ge 5 ] 2>/dev/null || die "BENCH_ROUNDS must be 5 or more"
for v in fio_runs_4k fio_runs_256k; do
  [ "${!v}" -ge 1 ] 2>/dev/null ||
    die "BENCH_FIO_RUNS and BENCH_FIO_RUNS_256K must be 1 or more"
done
"$FIO" --enghelp=nbd >/dev/null 2>&1 || die "this fio has no nbd engine"

started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$work"
mkdir -p "$work"
: > "$results"
data=$work/data                 # workload config round rate
: > "$data"

# Servers, by name: PID and socket.
declare -A spid ssock
wrap=()

cleanup ()
{
  local name
  for name in "${!spid[@]}"; do kill "${spid[$name]}" 2>/dev/null || :; done
  for name in "${!spid[@]}"; do wait "${spid[$name]}" 2>/dev/null || :; done
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "bench: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

out ()
{
  printf '%s\n' "$*" | tee -a "$results"
}

# start_server NAME TIMEOUT CONFIG PLUGIN PLUGIN-ARGS...
# CONFIG is base-a, base-b (no filter), nofilter, nf10 (ten nofilter
# layers: the control, a known extra cost), tg-deny, tg-hide or
# tg-allow.  The global array wrap (valgrind) goes before nbdkit; the
# global on_cpu, if set, replaces SERVER_CPU.
start_server ()
{
  local name=$1 timeout=$2
  shift 2
  launch_server "$name" "$@"
  wait_server "$name" "$timeout"
}

# launch_server NAME CONFIG PLUGIN PLUGIN-ARGS...: start, do not wait.
launch_server ()
{
  local name=$1 config=$2
  shift 2
  local s=$work/$name.sock i
  local -a fopts=() fparams=()

  case $config in
  base-*) ;;
  nofilter) fopts=(--filter=nofilter) ;;
  nf10) for i in 1 2 3 4 5 6 7 8 9 10; do fopts+=(--filter=nofilter); done ;;
  # 16 TLS-only patterns that the default export does not match: TLS
  # connections never match, plaintext opens match against all 16.
  tg-tlsonly) fopts=(--filter="$FILTER")
        fparams=(tlsguard-extents=deny)
        for i in $(seq 0 15); do fparams+=("tlsguard-tls-only=secret-$i-*"); done ;;
  tg-*) fopts=(--filter="$FILTER")
        fparams=("tlsguard-extents=${config#tg-}") ;;
  *) die "unknown config $config" ;;
  esac
  rm -f "$s"
  taskset -c "${on_cpu:-$server_cpu}" "${wrap[@]}" "$NBDKIT" -f -t 1 -U "$s" \
    --tls=on --tls-psk="$work/keys.psk" "${fopts[@]}" \
    "$@" "${fparams[@]}" >"$work/$name.log" 2>&1 &
  spid[$name]=$!
  ssock[$name]=$s
}

# wait_server NAME TIMEOUT: wait until the server listens.
wait_server ()
{
  local name=$1 timeout=$2 i
  local s=${ssock[$name]}

  for ((i = 0; i < timeout * 50; i++)); do
    [ -S "$s" ] && return 0
    kill -0 "${spid[$name]}" 2>/dev/null || break
    sleep 0.02
  done
  cat "$work/$name.log" >&2
  die "server $name did not start"
}

# fresh_servers SRV CONFIG...: replace the servers SRV-CONFIG by new
# processes, all at once.  An nbdkit process that has served other
# workloads can sit in a slow or a fast state for seconds, across
# connections, whatever its filters; fresh processes give every run
# its own draw of that instead of carrying one through the round.
fresh_servers ()
{
  local srv=$1 c
  shift
  local -a plugin
  case $srv in
  mem) plugin=(memory 1G) ;;
  file) plugin=(file "$work/sparse.img") ;;
  esac
  for c in "$@"; do kill "${spid[$srv-$c]}" 2>/dev/null || :; done
  for c in "$@"; do stop_server "$srv-$c"; done
  for c in "$@"; do launch_server "$srv-$c" "$c" "${plugin[@]}"; done
  for c in "$@"; do wait_server "$srv-$c" 10; done
}

stop_server ()
{
  local pid=${spid[$1]}
  kill "$pid" 2>/dev/null || :
  wait "$pid" 2>/dev/null || :
  unset "spid[$1]"
}

vmrss ()
{
  awk '/^VmRSS:/ { print $2 }' "/proc/${spid[$1]}/status"
}

client ()
{
  taskset -c "$client_cpu" "$TG_BENCH" "$@"
}

# ---------------------------------------------------------------------
# Set-up.

"$PSKTOOL" -u qemu -p "$work/keys.psk" >/dev/null
chmod 0600 "$work/keys.psk"
psk=$work/keys.psk

# Sparse file: a 4 KiB data block every 16 KiB, 50,000 data extents
# and 50,000 holes; a 64 KiB block status request sees 8 extents.
sparse_blocks=50000
client mksparse "$work/sparse.img" --count $sparse_blocks \
  --size 4096 --stride 16384

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
libnbd_version=$("$TG_BENCH" sizes | awk '$1 == "libnbd" { print $2 }')
tg_conn_size=$("$TG_BENCH" sizes | awk '$2 == "tg_conn" { print $3 }')
fio_version=$("$FIO" --version)
vg_version=$("$VALGRIND" --version)
fio_ms=$(awk -v t="$T_fio" 'BEGIN { printf "%d", t * 1000 }')

plain_configs=(base-a base-b nofilter nf10 tg-deny tg-hide tg-allow)
tls_configs=(base-a base-b nofilter nf10 tg-deny)
for c in "${plain_configs[@]}"; do
  start_server "mem-$c" 10 "$c" memory 1G
  start_server "file-$c" 10 "$c" file "$work/sparse.img"
done

# ---------------------------------------------------------------------
# Throughput: workloads a, b, c; configs interleaved in every round.

workloads=(a-rand4k-plain a-seq256k-plain a-rand4k-tls a-seq256k-tls
           b-bs-plain b-bs-tls c-connect-tls)

# measure_side_by_side WORKLOAD ROUND CONFIG...: run every CONFIG at
# once, in this order, and append "WORKLOAD CONFIG ROUND RATE" lines.
measure_side_by_side ()
{
  local w=$1 r=$2 c
  shift 2
  local -a socks=() jobs=() tls=()
  local srv=mem
  case $w in b-*) srv=file ;; esac
  case $w in *-tls) tls=(--tls-psk "$psk") ;; esac
  # Fresh servers for every run (fio: for each of its runs, below).
  case $w in a-*-plain) ;; *) fresh_servers "$srv" "$@" ;; esac
  for c in "$@"; do socks+=("${ssock[$srv-$c]}"); done

  case $w in
  a-rand4k-plain|a-seq256k-plain)
    local rw=randread bs=4k fio_runs=$fio_runs_4k
    [ "$w" = a-seq256k-plain ] && { rw=read; bs=256k; fio_runs=$fio_runs_256k; }
    local -a cs=("$@")
    local k i n=$#
    # fio_runs short fio runs, each with fresh connections and the job
    # order turned once more; a configuration's rate in the round is
    # the mean over the runs.  fio's spread between jobs narrows only
    # with time (README.md), and the 256 KiB reads scatter more, so
    # they get more runs.
    # (Not a pipeline: fresh_servers must run in this shell, which owns
    # the servers.)
    : > "$work/fio.out"
    for ((k = 0; k < fio_runs; k++)); do
      fresh_servers mem "${cs[@]}"
      jobs=()
      for ((i = 0; i < n; i++)); do
        c=${cs[$(((i + k) % n))]}
        jobs+=(--name="$c" --uri="nbd+unix:///?socket=${ssock[mem-$c]}")
      done
      # Terse v3: field 3 is the job name, field 8 the read IOPS.
      taskset -c "$client_cpu" "$FIO" --ioengine=nbd --rw=$rw --bs=$bs \
        --iodepth=$depth --time_based --runtime="${fio_ms}ms" \
        --output-format=terse --terse-version=3 "${jobs[@]}" \
        >> "$work/fio.out" 2>/dev/null
    done
    awk -F';' -v w="$w" -v r="$r" -v k="$fio_runs" '
      NF > 8 { sum[$3] += $8; runs[$3]++ }
      END { for (c in sum) if (runs[c] == k) print w, c, r, sum[c] / k }' \
      "$work/fio.out"
    ;;
  a-rand4k-tls|a-seq256k-tls)
    local -a sz=(--size 4096)
    [ "$w" = a-seq256k-tls ] && sz=(--size 262144 --seq)
    client read "${socks[@]}" "${tls[@]}" "${sz[@]}" --depth $depth \
      --time "$T" | by_socket "$w" "$r" ;;
  b-bs-plain|b-bs-tls)
    client bs "${socks[@]}" "${tls[@]}" --size 65536 --depth $depth \
      --time "$T" | by_socket "$w" "$r" "$work/bs-detail" ;;
  c-connect-tls)
    client connect "${socks[@]}" "${tls[@]}" --time "$T" |
      by_socket "$w" "$r" "$work/connect-detail" ;;
  esac >> "$data"
}

# by_socket WORKLOAD ROUND [DETAIL]: tg-bench prints "ops N secs S
# rate R extents E errors X socket PATH" per server, and the socket is
# WORKDIR/SRV-CONFIG.sock.  Print "WORKLOAD CONFIG ROUND RATE"; append
# "WORKLOAD CONFIG LINE" to DETAIL.
by_socket ()
{
  awk -v w="$1" -v r="$2" -v detail="${3:-/dev/null}" '$1 == "ops" {
    c = $12; sub(/.*\//, "", c); sub(/^[a-z]*-/, "", c); sub(/\.sock$/, "", c)
    print w, c, r, $6
    print w, c, $0 >> detail }'
}

for ((r = 1; r <= rounds; r++)); do
  note "round $r/$rounds"
  for w in "${workloads[@]}"; do
    case $w in
    *-plain) configs=("${plain_configs[@]}") ;;
    *) configs=("${tls_configs[@]}") ;;
    esac
    n=${#configs[@]}
    # Rotate the order every round so no config is always first.
    order=()
    for ((i = 0; i < n; i++)); do
      order+=("${configs[$(((i + r) % n))]}")
    done
    if [ "$mode" = side-by-side ]; then
      measure_side_by_side "$w" "$r" "${order[@]}"
    else
      # Sequential: the same runs, one configuration at a time.
      for c in "${order[@]}"; do
        measure_side_by_side "$w" "$r" "$c"
      done
    fi
    for c in "${configs[@]}"; do
      grep -q "^$w $c $r [0-9]" "$data" || die "$w on $c gave no result in round $r"
    done
  done
done

for c in "${plain_configs[@]}"; do
  stop_server "mem-$c"
done

# ---------------------------------------------------------------------
# (d) callgrind: instructions per request, from N and 2N requests.

# vg_pair NAME CONFIG KIND TLS N TOOL-ARGS...: two nbdkit runs under
# valgrind at once, one pinned to each CPU with its client, serving N
# and 2N requests (KIND pread or bs) or connections (KIND connect); the
# tool's output goes to WORKDIR/NAME.0 and WORKDIR/NAME.1.  Counts of
# instructions and allocations do not depend on what else the machine
# runs, so the two runs share it.  (Not in a subshell: the trap must
# see the servers.)
vg_pair ()
{
  local name=$1 c=$2 kind=$3 tls=$4 n=$5 i
  shift 5
  local -a plugin req tlsopt=() cpu=("$server_cpu" "$client_cpu")
  local -a count=("$n" $((n * 2))) cpid=()

  case $kind in
  pread) plugin=(memory 1G); req=(read --size 4096 --depth 1) ;;
  bs) plugin=(file "$work/sparse.img"); req=(bs --size 65536 --depth 1) ;;
  connect) plugin=(memory 1G); req=(connect) ;;
  esac
  [ "$tls" = tls ] && tlsopt=(--tls-psk "$psk")
  for i in 0 1; do
    wrap=("$VALGRIND" "${@/@OUT@/$work/$name.$i}")
    on_cpu=${cpu[$i]}
    launch_server "vg$i" "$c" "${plugin[@]}"
  done
  wrap=()
  on_cpu=
  for i in 0 1; do wait_server "vg$i" 120; done
  for i in 0 1; do
    taskset -c "${cpu[$i]}" "$TG_BENCH" "${req[@]}" "${ssock[vg$i]}" \
      "${tlsopt[@]}" --count "${count[$i]}" >/dev/null &
    cpid+=($!)
  done
  for i in 0 1; do
    wait "${cpid[$i]}" || die "$kind client for $c ($name) failed"
  done
  sleep 0.5                     # let the connection threads finish
  stop_server vg0
  stop_server vg1
}

# cg_per CONFIG KIND TLS [N]: instructions per request (or connection),
# (Ir(2N) - Ir(N)) / N.
cg_per ()
{
  local n=${4:-$cg_n} out=cg.$1.$2.$3
  vg_pair "$out" "$1" "$2" "$3" "$n" \
    --tool=callgrind --callgrind-out-file=@OUT@
  ir[$2:$1:$3]=$(awk -v n="$n" '/^(summary|totals):/ { t[FILENAME] = $2 }
    END { printf "%.1f", (t[ARGV[2]] - t[ARGV[1]]) / n }' \
    "$work/$out.0" "$work/$out.1")
}

t_throughput=$(( $(date +%s) - started ))
note "callgrind"
declare -A ir
for kind in pread bs; do
  for spec in base-a:plain nofilter:plain nf10:plain tg-allow:plain \
              nofilter:tls tg-deny:tls; do
    cg_per "${spec%%:*}" "$kind" "${spec##*:}"
  done
done
# Connection setup, TLS-PSK: handshake, GO, NBD_CMD_DISC.
for c in base-a nofilter tg-deny tg-tlsonly; do
  cg_per "$c" connect tls "$cg_conn"
done

# ---------------------------------------------------------------------
# (e) memory: heap bytes per connection (memcheck, K and 2K
# connections), and RSS before and after many connections.

# heap CONFIG: allocations and heap bytes per connection, from K and
# 2K connections (memcheck's "total heap usage" line).
heap ()
{
  local c=$1 out=heap.$1 a1 b1 a2 b2
  vg_pair "$out" "$c" connect plain "$heap_k" \
    --tool=memcheck --leak-check=no --log-file=@OUT@
  # "total heap usage: 1,234 allocs, 1,234 frees, 56,789 bytes allocated"
  read -r a1 b1 a2 b2 <<<"$(sed -n 's/.*total heap usage: \([0-9,]*\) allocs, [0-9,]* frees, \([0-9,]*\) bytes.*/\1 \2/p' \
    "$work/$out.0" "$work/$out.1" | tr -d , | tr '\n' ' ')"
  heap_a[$c]=$(awk -v x="$a1" -v y="$a2" -v k="$heap_k" \
               'BEGIN { printf "%.2f", (y - x) / k }')
  heap_b[$c]=$(awk -v x="$b1" -v y="$b2" -v k="$heap_k" \
               'BEGIN { printf "%.1f", (y - x) / k }')
}

t_callgrind=$(( $(date +%s) - started - t_throughput ))
note "memory"
declare -A heap_b heap_a
for c in base-a nofilter tg-deny; do
  heap "$c"
done
# The filter's thread-local block (PT_TLS MemSiz): the connection
# record (struct conn_rec in tlsguard.c, which holds struct tg_conn).
# In the default TLS model (no DF_STATIC_TLS flag) glibc mallocs it on
# each connection thread's first access, so memcheck's heap count
# already has it; only a static TLS block is added to the heap below.
tls_memsz=$(readelf -lW "$FILTER" 2>/dev/null |
            awk '$1 == "TLS" { print $6 }' || :)
if [ -n "$tls_memsz" ]; then
  tls_memsz=$((tls_memsz))
else
  tls_memsz=$tg_conn_size
fi
if readelf -d "$FILTER" 2>/dev/null | grep -q 'FLAGS.*STATIC_TLS'; then
  tls_static=$tls_memsz
  tls_where="static TLS"
else
  tls_static=0
  tls_where="on the heap, in the heap bytes"
fi

declare -A rss0 rss1
for c in base-a nofilter tg-deny; do
  start_server rss 10 "$c" memory 1G
  rss0[$c]=$(vmrss rss)
  client connect "${ssock[rss]}" --count "$rss_conns" >/dev/null
  sleep 0.3
  rss1[$c]=$(vmrss rss)
  stop_server rss
done

for c in "${plain_configs[@]}"; do
  stop_server "file-$c"
done

# ---------------------------------------------------------------------
# Report.

# stats W C REF: median, min and max over the rounds of the per-round
# ratio rate(C) / rate(REF).
stats ()
{
  awk -v w="$1" -v c="$2" -v ref="$3" '
    $1 == w && $2 == c { v[$3] = $4 }
    $1 == w && $2 == ref { b[$3] = $4 }
    END {
      n = 0
      for (r in v) if ((r in b) && b[r] > 0) x[++n] = v[r] / b[r]
      if (n == 0) { print "nan nan nan"; exit }
      for (i = 2; i <= n; i++) {
        t = x[i]
        for (j = i - 1; j > 0 && x[j] > t; j--) x[j + 1] = x[j]
        x[j + 1] = t
      }
      med = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
      printf "%.3f %.3f %.3f\n", med, x[1], x[n]
    }' "$data"
}

# Median absolute rate of W on C.
median_rate ()
{
  awk -v w="$1" -v c="$2" '$1 == w && $2 == c { print $4 }' "$data" |
    sort -g | awk '{ x[NR] = $1 }
      END { m = NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
            if (m >= 10000) printf "%.1fk", m / 1000
            else printf "%.0f", m }'
}

cell ()
{
  local med lo hi
  read -r med lo hi <<<"$(stats "$@")"
  printf '%s [%s,%s]' "$med" "$lo" "$hi"
}

met=0
missed=0
# goal OK-EXPR TEXT: OK-EXPR is an awk condition.  Sets goal_text and
# counts the goal (not in a subshell, so that the counts survive).
goal ()
{
  if awk "BEGIN { exit !($1) }"; then
    met=$((met + 1)); goal_text="ok ($2)"
  else
    missed=$((missed + 1)); goal_text="MISSED ($2)"
  fi
}

fmt='%-26s %-11s %-13s %-21s %-21s %-21s %-21s %-6s %s'
out "tlsguard bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
out "machine: $(nproc) CPUs, $cpu_model, Linux $(uname -r);" \
    "load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
out "software: nbdkit $NBDKIT_VERSION, $fio_version, libnbd $libnbd_version, $vg_version"
if [ "$mode" = side-by-side ]; then
  how="every config of a workload side by side (at the same time, one client)"
else
  how="configs one after the other (rotated)"
fi
out "method: nbdkit -t 1 on CPU $server_cpu, client on CPU $client_cpu, Unix sockets;" \
    "$rounds rounds, $how, ${T}s per run (fio: $fio_runs_4k runs of ${T_fio}s for 4k, $fio_runs_256k for 256k);"
out "        ratio = config / no filter in the same round: median [min,max] over rounds;" \
    "control = ten nofilter layers"
out ""
out "$(printf "$fmt" workload handles "no filter" "A/A (no filter)" \
      "nofilter" "control (10 layers)" "tlsguard" "tg/nf" \
      "goal: tg/nf median")"

row ()
{
  # row W LABEL HANDLES TG-CONFIG UNIT [NOGOAL-REASON]
  local w=$1 label=$2 handles=$3 tg=$4 unit=$5 nogoal=${6:-} g
  local tgnf
  tgnf=$(stats "$w" "$tg" nofilter | awk '{ print $1 }')
  if [ -n "$nogoal" ]; then
    g="n/a: $nogoal"
  else
    goal "$tgnf >= 0.99" ">= 0.99"
    g=$goal_text
  fi
  out "$(printf "$fmt" "$label" "$handles" "$(median_rate "$w" base-a) $unit" \
        "$(cell "$w" base-b base-a)" "$(cell "$w" nofilter base-a)" \
        "$(cell "$w" nf10 base-a)" "$(cell "$w" "$tg" base-a)" "$tgnf" "$g")"
}

for p in deny hide allow; do
  row a-rand4k-plain "a fio randread 4k qd$depth" "plain/$p" "tg-$p" IOPS
done
row a-rand4k-tls "a nbd randread 4k qd$depth" tls tg-deny IOPS
for p in deny hide allow; do
  row a-seq256k-plain "a fio read 256k qd$depth" "plain/$p" "tg-$p" IOPS
done
row a-seq256k-tls "a nbd read 256k qd$depth" tls tg-deny IOPS
row b-bs-plain "b block status 64k qd$depth" plain/deny tg-deny req/s \
  "every request refused"
for p in hide allow; do
  row b-bs-plain "b block status 64k qd$depth" "plain/$p" "tg-$p" req/s
done
row b-bs-tls "b block status 64k qd$depth" tls tg-deny req/s
# Connections per server and run (median over the tlsguard runs).
conns=$(awk '$1 == "c-connect-tls" && $2 == "tg-deny" { print $4 }' \
          "$work/connect-detail" | sort -n |
        awk '{ x[NR] = $1 } END { print x[int((NR + 1) / 2)] }')
row c-connect-tls "c TLS-PSK connect+GO" tls tg-deny conn/s

bs_extents=$(awk '$1 == "b-bs-tls" && $2 == "base-a" { e = $10 / $4 }
                  END { printf "%.1f", e }' "$work/bs-detail")
out "   (b: file plugin, sparse file of $sparse_blocks data extents + $sparse_blocks holes, $bs_extents extents per reply;"
out "    plain/deny measures refusals, plain/hide measures the filter's own all-data replies;"
out "    c: $conns connections per server and run, each TLS-PSK handshake, GO, NBD_CMD_DISC)"
out ""

cgfmt='%-26s %-11s %10s %10s %10s %9s  %s'
out "$(printf "$cgfmt" "d callgrind Ir/request" handles "no filter" nofilter \
      tlsguard "tg/nf" "goal")"
cgrow ()
{
  local kind=$1 label=$2 handles=$3 tg=$4 lim=$5 base nf t ratio g
  nf=${ir[$kind:nofilter:$handles]}
  t=${ir[$kind:$tg:$handles]}
  base=${ir[$kind:base-a:$handles]:--}
  ratio=$(awk -v a="$t" -v b="$nf" 'BEGIN { printf "%.4f", a / b }')
  goal "$ratio <= $lim" "<= $lim"
  g=$goal_text
  out "$(printf "$cgfmt" "$label" "$handles" "$base" "$nf" "$t" \
        "$ratio" "$g")"
}
cgrow pread "d pread 4k (memory)" plain tg-allow 1.005
cgrow pread "d pread 4k (memory)" tls tg-deny 1.005
cgrow bs "d block status 64k (file)" plain tg-allow 1.01
cgrow bs "d block status 64k (file)" tls tg-deny 1.01
ctl ()
{
  awk -v a="${ir[$1:nf10:plain]}" -v b="${ir[$1:nofilter:plain]}" \
      -v z="${ir[$1:base-a:plain]}" \
      'BEGIN { printf "%.1f (+%.1f per layer over no filter, %.4f x nofilter)", a, (a - z) / 10, a / b }'
}
out "$(printf "$cgfmt" "d TLS-PSK connection" tls "${ir[connect:base-a:tls]}" \
      "${ir[connect:nofilter:tls]}" "${ir[connect:tg-deny:tls]}" \
      "$(awk -v a="${ir[connect:tg-deny:tls]}" -v b="${ir[connect:nofilter:tls]}" \
         'BEGIN { printf "%.4f", a / b }')" "(no goal: handshake, GO, NBD_CMD_DISC)")"
# 16 tlsguard-tls-only= patterns against the same filter without them,
# per TLS connection.  (Matching never runs on the data path, whose
# code does not depend on the keys: the pread and block status rows
# above cover it.)
tlsonly_row ()
{
  local kind=$1 label=$2 ratio
  ratio=$(awk -v a="${ir[$kind:tg-tlsonly:tls]}" -v b="${ir[$kind:tg-deny:tls]}" \
          'BEGIN { printf "%.4f", a / b }')
  goal "$ratio <= 1.001" "<= 1.001"
  out "$(printf "$cgfmt" "$label" tls "${ir[$kind:tg-deny:tls]}" "(no keys)" \
        "${ir[$kind:tg-tlsonly:tls]}" "$ratio" "$goal_text, 16 tls-only keys / none")"
}
tlsonly_row connect "d TLS-PSK conn, 16 tls-only"
out "   control, ten nofilter layers: pread $(ctl pread); block status $(ctl bs)"
out "   (instructions in nbdkit per request, (Ir(2N) - Ir(N)) / N with N = $cg_n, synchronous;"
out "    per connection with N = $cg_conn connections, one after the other;"
out "    plain rows use tlsguard-extents=allow, the plaintext policy that passes block status through)"
out ""

# The filter's own state is what tlsguard adds over nofilter: both pay
# nbdkit's per-layer context, which is nbdkit's, not the filter's.
heap_filter=$(awk -v t="${heap_b[tg-deny]}" -v b="${heap_b[nofilter]}" \
              'BEGIN { printf "%.0f", t - b }')
allocs_filter=$(awk -v t="${heap_a[tg-deny]}" -v b="${heap_a[nofilter]}" \
                'BEGIN { printf "%.1f", t - b }')
heap_layer=$(awk -v t="${heap_b[nofilter]}" -v b="${heap_b[base-a]}" \
             'BEGIN { printf "%.0f", t - b }')
state=$((tls_static + heap_filter))
goal "$state <= 256" "<= 256 B"
out "e filter state per connection: $state bytes = $tls_static static TLS + $heap_filter heap in" \
    "$allocs_filter allocations; the connection record (struct tg_conn $tg_conn_size of it) is" \
    "$tls_memsz thread-local bytes, $tls_where  $goal_text"
out "  (memcheck, heap bytes allocated per connection: no filter ${heap_b[base-a]}," \
    "nofilter ${heap_b[nofilter]}, tlsguard ${heap_b[tg-deny]}; any filter layer" \
    "costs nbdkit $heap_layer B of its own context)"
g0=$((rss1[base-a] - rss0[base-a]))
gn=$((rss1[nofilter] - rss0[nofilter]))
gt=$((rss1[tg-deny] - rss0[tg-deny]))
goal "$gt - $g0 <= 1024" "<= 1024 KiB"
out "e RSS over $rss_conns connections (KiB): no filter ${rss0[base-a]} -> ${rss1[base-a]} (+$g0)," \
    "nofilter ${rss0[nofilter]} -> ${rss1[nofilter]} (+$gn)," \
    "tlsguard ${rss0[tg-deny]} -> ${rss1[tg-deny]} (+$gt);" \
    "tlsguard - no filter = $((gt - g0)) KiB  $goal_text"
out ""
elapsed=$(( $(date +%s) - started ))
if [ "$missed" -eq 0 ]; then
  verdict="all $met goals met"
else
  verdict="$missed of $((met + missed)) goals MISSED"
fi
out "summary: $verdict; $rounds rounds; bench took ${elapsed}s" \
    "(throughput ${t_throughput}s, callgrind ${t_callgrind}s)"
