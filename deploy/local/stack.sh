#!/usr/bin/env bash
# socialpulse local stack: real Kafka (KRaft, official jars), ClickHouse and Prometheus (Debian
# packages) as plain processes on 127.0.0.1, no containers.
#
#   deploy/local/stack.sh install                  fetch the Kafka jars (cached), check the rest
#   deploy/local/stack.sh up      [SERVICE...]     start and wait until ready (default: kafka clickhouse)
#   deploy/local/stack.sh down    [SERVICE...]     stop gracefully, keep data (default: all running)
#   deploy/local/stack.sh stop    SERVICE...       = down for the named services
#   deploy/local/stack.sh restart SERVICE...       stop, then up
#   deploy/local/stack.sh status  [SERVICE...]     service, state, pid, ports (exit 3 if a named one is down)
#   deploy/local/stack.sh clean   [SERVICE...]     down + delete data and logs (the Kafka jars stay)
#   deploy/local/stack.sh logs    [SERVICE]        tail -F the log(s)
#
# SERVICE: kafka | clickhouse | prometheus. Prometheus starts only when named:
#   PROMETHEUS_CONFIG=/path/prometheus.yml deploy/local/stack.sh up prometheus
# (without PROMETHEUS_CONFIG it scrapes only itself). Its lifecycle API is on (POST /-/reload).
#
# Everything lives under SOCIALPULSE_HOME (default <repo>/.local):
#   kafka/libs (jar cache), kafka/data, clickhouse/{data,tmp,user_files,format_schemas},
#   prometheus/data, logs/<service>.log, run/<service>.pid, rendered configs beside the data.
#
# Environment (defaults):
#   SOCIALPULSE_HOME=<repo>/.local
#   SOCIALPULSE_KAFKA_PORT=19092  SOCIALPULSE_KAFKA_CONTROLLER_PORT=19093
#   SOCIALPULSE_CLICKHOUSE_TCP_PORT=19000  SOCIALPULSE_CLICKHOUSE_HTTP_PORT=18123
#   SOCIALPULSE_PROMETHEUS_PORT=19090  PROMETHEUS_CONFIG=(self-scrape only)
#   SOCIALPULSE_CLICKHOUSE_BI_PASSWORD=socialpulse-bi-dev   (user socialpulse_bi, read-only)
#   SOCIALPULSE_KAFKA_HEAP_MAX=1g  SOCIALPULSE_KAFKA_HEAP_MIN=256m
#   SOCIALPULSE_STACK_TIMEOUT=120 (seconds to wait for readiness)  SOCIALPULSE_STOP_TIMEOUT=30
#   SOCIALPULSE_CLICKHOUSE_DATA_IMAGE=auto|yes|no  SOCIALPULSE_CLICKHOUSE_IMAGE_SIZE=20G
#     (ClickHouse data on a journaled ext4 image, loop-mounted; auto = when the data directory's
#     filesystem is ext4 without a journal and this runs as root; see clickhouse_data_on_image)
#   JAVA_HOME (else java on PATH; Java 17+ needed), MVN (else mvn on PATH)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"

SP_HOME="${SOCIALPULSE_HOME:-$REPO_DIR/.local}"
KAFKA_PORT="${SOCIALPULSE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SOCIALPULSE_KAFKA_CONTROLLER_PORT:-19093}"
CH_TCP_PORT="${SOCIALPULSE_CLICKHOUSE_TCP_PORT:-19000}"
CH_HTTP_PORT="${SOCIALPULSE_CLICKHOUSE_HTTP_PORT:-18123}"
PROM_PORT="${SOCIALPULSE_PROMETHEUS_PORT:-19090}"
CH_BI_PASSWORD="${SOCIALPULSE_CLICKHOUSE_BI_PASSWORD:-socialpulse-bi-dev}"
KAFKA_HEAP_MAX="${SOCIALPULSE_KAFKA_HEAP_MAX:-1g}"
KAFKA_HEAP_MIN="${SOCIALPULSE_KAFKA_HEAP_MIN:-256m}"
READY_TIMEOUT="${SOCIALPULSE_STACK_TIMEOUT:-120}"
STOP_TIMEOUT="${SOCIALPULSE_STOP_TIMEOUT:-30}"
CH_DATA_IMAGE="${SOCIALPULSE_CLICKHOUSE_DATA_IMAGE:-auto}"
CH_IMAGE_SIZE="${SOCIALPULSE_CLICKHOUSE_IMAGE_SIZE:-20G}"

KAFKA_DIR="$SP_HOME/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
CH_DIR="$SP_HOME/clickhouse"
CH_IMAGE="$CH_DIR/data.ext4"
PROM_DIR="$SP_HOME/prometheus"
LOG_DIR="$SP_HOME/logs"
RUN_DIR="$SP_HOME/run"

ALL_SERVICES=(kafka clickhouse prometheus)
DEFAULT_SERVICES=(kafka clickhouse)

# ---------------------------------------------------------------------------------------- helpers
log() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] warning: %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
}

valid_service() {
    case "$1" in kafka | clickhouse | prometheus) return 0 ;; *) return 1 ;; esac
}

ports_of() {
    case "$1" in
        kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
        clickhouse) echo "$CH_TCP_PORT $CH_HTTP_PORT" ;;
        prometheus) echo "$PROM_PORT" ;;
    esac
}

log_file_of() {
    case "$1" in
        kafka) echo "$LOG_DIR/kafka.log" ;;
        clickhouse) echo "$LOG_DIR/clickhouse.log" ;;
        prometheus) echo "$LOG_DIR/prometheus.log" ;;
    esac
}

pid_file_of() { echo "$RUN_DIR/$1.pid"; }

# A string that only our own process of this service has on its command line (guards against pid reuse
# and against a foreign process that happens to share the name).
marker_of() {
    case "$1" in
        kafka) echo "$KAFKA_DIR/server.properties" ;;
        clickhouse) echo "$CH_DIR/config.xml" ;;
        prometheus) echo "--storage.tsdb.path=$PROM_DIR/data" ;;
    esac
}

cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# Prints the pid of our running process of SERVICE, or nothing (removing a stale pid file).
running_pid() {
    local svc="$1" pf pid
    pf="$(pid_file_of "$svc")"
    [[ -f "$pf" ]] || return 0
    pid="$(cat "$pf" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && [[ "$(cmdline_of "$pid")" == *"$(marker_of "$svc")"* ]]; then
        echo "$pid"
        return 0
    fi
    rm -f "$pf"
    # setsid forks when it starts as a process-group leader, and the service then runs under its child's pid, not
    # the one spawn recorded (seen: "prometheus: the process exited during start-up" while it was serving). Our
    # process is the newest one whose command line holds this stack's marker (its home's data path).
    pid="$(pgrep -n -f -- "$(marker_of "$svc")" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(cmdline_of "$pid")" != *stack.sh* ]]; then
        echo "$pid" >"$pf"
        echo "$pid"
    fi
}

port_listening() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

port_owner() {
    local port="$1" who=""
    if command -v ss >/dev/null 2>&1; then
        who="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true)"
    fi
    echo "${who:-an unknown process}"
}

# Fails clearly when a port this service needs is held by something that is not our process.
check_ports_free() {
    local svc="$1" port
    for port in $(ports_of "$svc"); do
        if port_listening "$port"; then
            die "$svc: port $port on this machine is already taken by $(port_owner "$port"), which is not this stack's $svc.
        Stop it, or pick other ports (see the SOCIALPULSE_*_PORT variables at the top of $0)."
        fi
    done
}

http_ok() {
    local url="$1"
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 3 "$url" 2>/dev/null
    else
        python3 - "$url" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=3).read()
PY
    fi
}

render() { # render TEMPLATE OUT KEY=VALUE...
    local tmpl="$1" out="$2" kv key val content
    shift 2
    content="$(cat "$tmpl")"
    for kv in "$@"; do
        key="${kv%%=*}"
        val="${kv#*=}"
        content="${content//@@${key}@@/$val}"
    done
    printf '%s\n' "$content" >"$out.tmp"
    mv -f "$out.tmp" "$out"
}

# Start a long-running process in its own session, detached from the caller's terminal; record its pid.
spawn() { # spawn SERVICE LOGFILE CMD...
    local svc="$1" logf="$2" pid
    shift 2
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    printf '\n===== %s starting %s at %s =====\n' "$svc" "$*" "$(date -u +%FT%TZ)" >>"$logf"
    # 9>&-: the child must not inherit stack.sh's lock descriptor (it would hold the lock for its lifetime).
    setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
    pid=$!
    # Until the child has exec'd, /proc/PID/cmdline is still this script's, and running_pid would take the
    # service for dead (seen on a loaded machine: "prometheus: the process exited during start-up").
    local waited=0
    while kill -0 "$pid" 2>/dev/null && [[ "$(cmdline_of "$pid")" != *"$(marker_of "$svc")"* ]] && ((waited < 50)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "$pid" >"$(pid_file_of "$svc")"
}

fail_start() { # fail_start SERVICE REASON
    local svc="$1" logf
    logf="$(log_file_of "$svc")"
    {
        printf '[stack] error: %s: %s\n' "$svc" "$2"
        printf '[stack] last lines of %s:\n' "$logf"
        tail -n 25 "$logf" 2>/dev/null | sed 's/^/    /'
        if [[ "$svc" == clickhouse && -s "$LOG_DIR/clickhouse.err.log" ]]; then
            printf '[stack] last lines of %s:\n' "$LOG_DIR/clickhouse.err.log"
            tail -n 15 "$LOG_DIR/clickhouse.err.log" | sed 's/^/    /'
        fi
        printf '[stack] full log: %s\n' "$logf"
    } >&2
    exit 1
}

# wait_ready SERVICE CHECK_FUNCTION: polls until CHECK succeeds, the process dies, or the timeout passes.
wait_ready() {
    local svc="$1" check="$2" start now pid
    start=$SECONDS
    while true; do
        pid="$(running_pid "$svc")"
        [[ -n "$pid" ]] || fail_start "$svc" "the process exited during start-up"
        if "$check"; then
            log "$svc is ready (pid $pid, ports $(ports_of "$svc" | tr ' ' ','), $((SECONDS - start))s)"
            return 0
        fi
        now=$SECONDS
        if ((now - start >= READY_TIMEOUT)); then
            fail_start "$svc" "not ready after ${READY_TIMEOUT}s (SOCIALPULSE_STACK_TIMEOUT); it is still running as pid $pid"
        fi
        sleep 1
    done
}

stop_service() {
    local svc="$1" pid waited=0
    pid="$(running_pid "$svc")"
    if [[ -z "$pid" ]]; then
        log "$svc is not running"
        [[ "$svc" != clickhouse ]] || release_clickhouse_data
        return 0
    fi
    log "stopping $svc (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= STOP_TIMEOUT * 2)); then
            warn "$svc (pid $pid) still running after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$(pid_file_of "$svc")"
    log "$svc stopped"
    [[ "$svc" != clickhouse ]] || release_clickhouse_data
}

with_lock() {
    mkdir -p "$RUN_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$RUN_DIR/stack.lock"
        flock -w 300 9 || die "another stack.sh holds $RUN_DIR/stack.lock for more than 300s"
    fi
}

# ------------------------------------------------------------------------------------------ kafka
java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        echo "$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        command -v java
    fi
}

check_java() {
    local java ver major
    java="$(java_bin)"
    [[ -n "$java" ]] || die "java not found: Kafka 4 needs Java 17+ (apt-get install -y openjdk-17-jre-headless, or run .ci/install-system.sh)"
    ver="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
    major="${ver%%.*}"
    [[ "$major" == 1 ]] && major="$(echo "$ver" | cut -d. -f2)"
    [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read the Java version from '$java -version'"
    ((major >= 17)) || die "$java is Java $ver; Kafka 4 brokers need Java 17+ (set JAVA_HOME to a newer JDK)"
    JAVA="$java"
}

kafka_java() { # JVM for Kafka's CLI classes (not the broker)
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2-tools.xml" -cp "$KAFKA_LIBS/*" "$@"
}

install_kafka() {
    local pom="$SCRIPT_DIR/kafka/pom.xml" stamp want mvn tmp
    want="$(sha256sum "$pom" | cut -d' ' -f1)"
    stamp="$KAFKA_LIBS/.pom.sha256"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
        log "kafka jars: cached in $KAFKA_LIBS"
        return 0
    fi
    check_java
    mvn="${MVN:-$(command -v mvn || true)}"
    [[ -n "$mvn" ]] || die "mvn not found: needed once to fetch the Kafka jars from Maven Central (apt-get install -y maven, or run .ci/install-system.sh)"
    log "kafka jars: resolving $pom into $KAFKA_LIBS (Maven Central; first time takes a minute)"
    mkdir -p "$KAFKA_DIR"
    tmp="$KAFKA_DIR/libs.tmp.$$"
    rm -rf "$tmp"
    if ! "$mvn" -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_DIR/mvn.log" 2>&1; then
        rm -rf "$tmp"
        tail -n 30 "$KAFKA_DIR/mvn.log" >&2 || true
        die "mvn could not fetch the Kafka jars (full output: $KAFKA_DIR/mvn.log)"
    fi
    echo "$want" >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "kafka jars: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $KAFKA_LIBS"
}

kafka_ready() {
    port_listening "$KAFKA_PORT" || return 1
    if command -v kcat >/dev/null 2>&1; then
        kcat -b "127.0.0.1:$KAFKA_PORT" -L -m 5 2>/dev/null | grep -q '^ *broker 1 at'
    else
        kafka_java org.apache.kafka.tools.ClusterTool cluster-id --bootstrap-server "127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1
    fi
}

up_kafka() {
    local pid props="$KAFKA_DIR/server.properties" data="$KAFKA_DIR/data" cluster_id
    check_java
    install_kafka
    pid="$(running_pid kafka)"
    if [[ -n "$pid" ]]; then
        log "kafka already running (pid $pid)"
        wait_ready kafka kafka_ready
        return 0
    fi
    check_ports_free kafka
    mkdir -p "$data" "$LOG_DIR"
    render "$SCRIPT_DIR/kafka/server.properties.in" "$props" \
        KAFKA_PORT="$KAFKA_PORT" CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" DATA_DIR="$data"
    if [[ ! -f "$data/meta.properties" ]]; then
        cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid)"
        log "kafka: formatting $data (cluster id $cluster_id)"
        kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$props" --ignore-formatted \
            >>"$(log_file_of kafka)" 2>&1 || fail_start kafka "kafka-storage format failed"
    fi
    log "starting kafka on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT, heap $KAFKA_HEAP_MIN..$KAFKA_HEAP_MAX)"
    spawn kafka "$(log_file_of kafka)" "$JAVA" -Xms"$KAFKA_HEAP_MIN" -Xmx"$KAFKA_HEAP_MAX" -server \
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.xml" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$props"
    wait_ready kafka kafka_ready
}

# ------------------------------------------------------------------------------------- clickhouse
check_clickhouse() {
    command -v clickhouse-server >/dev/null 2>&1 ||
        die "clickhouse-server is not installed: apt-get install -y clickhouse-server clickhouse-client (or run .ci/install-system.sh)"
    command -v clickhouse-client >/dev/null 2>&1 ||
        die "clickhouse-client is not installed: apt-get install -y clickhouse-client (or run .ci/install-system.sh)"
}

# ext4 without a journal (the root filesystem of this project's VMs) checks, for every new inode, whether
# the free inode it found was deleted in the last minute (six if its block is dirty) and then scans on
# (fs/ext4/ialloc.c, recently_deleted(): only when there is no journal). ClickHouse creates and deletes
# a few hundred files a second (a wide part per table per insert, merges): a sink insert cost the machine
# 155 ms of CPU (the server's system time 87 ms) against 75 ms (18) on a journaled ext4 image on the same
# disk (bench/bench_clickhouse_storage.py, bench/RESULTS.md). A server on a journaled filesystem or XFS does
# not pay it; locally the data goes on a loop-mounted ext4 image with a journal when that can be done.
fs_without_journal() { # DIR: true when DIR is on ext4 that has no journal
    local src fstype dev
    read -r src fstype < <(findmnt -n -o SOURCE,FSTYPE --target "$1" 2>/dev/null) || return 1
    [[ "$fstype" == ext4 ]] || return 1
    dev="$(basename "$(readlink -f "$src")")"
    ! compgen -G "/proc/fs/jbd2/${dev}-*" >/dev/null
}

can_loop_mount() {
    ((EUID == 0)) && [[ -e /dev/loop-control ]] && command -v mkfs.ext4 >/dev/null 2>&1 &&
        command -v mountpoint >/dev/null 2>&1
}

clickhouse_data_on_image() {
    local data="$CH_DIR/data" staging="$CH_DIR/.image-staging"
    mountpoint -q "$data" 2>/dev/null && return 0
    case "$CH_DATA_IMAGE" in
        no)
            [[ ! -f "$CH_IMAGE" ]] || warn "SOCIALPULSE_CLICKHOUSE_DATA_IMAGE=no: the data in $CH_IMAGE is not used (unset it to use it again)"
            return 0
            ;;
        yes) can_loop_mount || die "SOCIALPULSE_CLICKHOUSE_DATA_IMAGE=yes needs root, /dev/loop-control and mkfs.ext4" ;;
        auto)
            # an image once made holds the data from then on, whatever the filesystem says now
            [[ -f "$CH_IMAGE" ]] || { fs_without_journal "$CH_DIR" && can_loop_mount; } || return 0
            ;;
        *) die "SOCIALPULSE_CLICKHOUSE_DATA_IMAGE must be auto, yes or no (got '$CH_DATA_IMAGE')" ;;
    esac
    if [[ ! -f "$CH_IMAGE" ]]; then
        truncate -s "$CH_IMAGE_SIZE" "$CH_IMAGE"  # sparse: takes only what ClickHouse writes
        if ! mkfs.ext4 -q -F -m 0 -E lazy_itable_init=1,lazy_journal_init=1 "$CH_IMAGE" ||
            ! mkdir -p "$staging" || ! mount -o loop "$CH_IMAGE" "$staging"; then
            rmdir "$staging" 2>/dev/null || true
            rm -f "$CH_IMAGE"
            warn "could not make a journaled ext4 image for ClickHouse's data; it stays in $data"
            return 0
        fi
        # data written before the image existed moves into it: nothing is left behind or lost
        if ! cp -a "$data/." "$staging/"; then
            umount "$staging" && rmdir "$staging" && rm -f "$CH_IMAGE"
            die "copying $data into a new image failed; the data is untouched in $data"
        fi
        # one mount at a time: the same image mounted twice would be corrupted
        umount "$staging" || die "could not unmount $staging; the data is untouched in $data"
        rmdir "$staging"
        find "$data" -mindepth 1 -delete
    fi
    mount -o loop "$CH_IMAGE" "$data" ||
        die "mounting $CH_IMAGE on $data failed; ClickHouse's data is in that image (SOCIALPULSE_CLICKHOUSE_DATA_IMAGE)"
    log "clickhouse data on a journaled ext4 image: $CH_IMAGE (mounted on $data; clean deletes it)"
}

release_clickhouse_data() {
    if mountpoint -q "$CH_DIR/data" 2>/dev/null; then
        umount "$CH_DIR/data" || warn "could not unmount $CH_DIR/data (busy?); the next up reuses the mount"
    fi
}

clickhouse_ready() {
    port_listening "$CH_TCP_PORT" || return 1
    clickhouse-client --host 127.0.0.1 --port "$CH_TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1
}

up_clickhouse() {
    local pid sha
    check_clickhouse
    pid="$(running_pid clickhouse)"
    if [[ -n "$pid" ]]; then
        log "clickhouse already running (pid $pid)"
        wait_ready clickhouse clickhouse_ready
        return 0
    fi
    check_ports_free clickhouse
    mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas} "$LOG_DIR"
    clickhouse_data_on_image
    sha="$(printf '%s' "$CH_BI_PASSWORD" | sha256sum | cut -d' ' -f1)"
    render "$SCRIPT_DIR/clickhouse/config.xml" "$CH_DIR/config.xml" \
        TCP_PORT="$CH_TCP_PORT" HTTP_PORT="$CH_HTTP_PORT" CH_DIR="$CH_DIR" LOG_DIR="$LOG_DIR"
    render "$SCRIPT_DIR/clickhouse/users.xml" "$CH_DIR/users.xml" BI_PASSWORD_SHA256="$sha"
    chmod 600 "$CH_DIR/users.xml"
    log "starting clickhouse on 127.0.0.1:$CH_TCP_PORT (tcp) / $CH_HTTP_PORT (http)"
    # Runs in the foreground of its own session (no --daemon) so the recorded pid is the server's.
    # It writes its own log files (logger section of config.xml); stdout/stderr go to clickhouse.out.
    (cd "$CH_DIR" && spawn clickhouse "$LOG_DIR/clickhouse.out" clickhouse-server --config-file="$CH_DIR/config.xml")
    wait_ready clickhouse clickhouse_ready
}

# ------------------------------------------------------------------------------------- prometheus
prometheus_ready() { http_ok "http://127.0.0.1:$PROM_PORT/-/ready"; }

up_prometheus() {
    local pid config
    command -v prometheus >/dev/null 2>&1 ||
        die "prometheus is not installed: apt-get install -y prometheus (or run .ci/install-system.sh)"
    mkdir -p "$PROM_DIR/data" "$LOG_DIR"
    if [[ -n "${PROMETHEUS_CONFIG:-}" ]]; then
        [[ -f "$PROMETHEUS_CONFIG" ]] || die "PROMETHEUS_CONFIG=$PROMETHEUS_CONFIG: no such file"
        config="$(realpath "$PROMETHEUS_CONFIG")"
    else
        config="$PROM_DIR/prometheus.yml"
        render "$SCRIPT_DIR/prometheus/prometheus.yml.in" "$config" PROMETHEUS_PORT="$PROM_PORT"
        log "prometheus: PROMETHEUS_CONFIG not set, using $config (scrapes itself only)"
    fi
    if command -v promtool >/dev/null 2>&1; then
        promtool check config "$config" >"$PROM_DIR/promtool.out" 2>&1 ||
            { cat "$PROM_DIR/promtool.out" >&2; die "prometheus: promtool rejects $config"; }
    fi
    pid="$(running_pid prometheus)"
    if [[ -n "$pid" ]]; then
        if [[ "$(cmdline_of "$pid")" == *"--config.file=$config "* ]]; then
            log "prometheus already running (pid $pid) with $config: reloading it"
            wait_ready prometheus prometheus_ready
            curl -fsS -X POST "http://127.0.0.1:$PROM_PORT/-/reload" >/dev/null 2>&1 || warn "prometheus: reload failed"
            return 0
        fi
        log "prometheus is running (pid $pid) with another config: restarting it with $config"
        stop_service prometheus
    fi
    check_ports_free prometheus
    log "starting prometheus on 127.0.0.1:$PROM_PORT with $config"
    spawn prometheus "$(log_file_of prometheus)" prometheus \
        --config.file="$config" \
        --web.listen-address="127.0.0.1:$PROM_PORT" \
        --storage.tsdb.path="$PROM_DIR/data" \
        --storage.tsdb.retention.time=2d \
        --web.enable-lifecycle
    wait_ready prometheus prometheus_ready
}

# --------------------------------------------------------------------------------------- commands
cmd_install() {
    install_kafka
    if command -v clickhouse-server >/dev/null 2>&1; then
        # 18.16's clickhouse-server has no --version; the client of the same package has.
        log "clickhouse-server: present ($(clickhouse-client --version 2>/dev/null | grep -o '[0-9][0-9.]*[0-9]' | head -n1 || true))"
    else
        warn "clickhouse-server is not installed: apt-get install -y clickhouse-server clickhouse-client (or .ci/install-system.sh)"
    fi
    if command -v prometheus >/dev/null 2>&1; then
        log "prometheus: $(prometheus --version 2>&1 | head -n1)"
    else
        warn "prometheus is not installed: apt-get install -y prometheus (or .ci/install-system.sh)"
    fi
}

cmd_up() {
    local svc
    for svc in "$@"; do "up_$svc"; done
}

cmd_down() {
    local svc
    for svc in "$@"; do stop_service "$svc"; done
}

cmd_status() {
    local svc pid state port ports rc=0 explicit="$1"
    shift
    printf '%-11s %-8s %-8s %s\n' SERVICE STATE PID PORTS
    for svc in "$@"; do
        pid="$(running_pid "$svc")"
        ports="$(ports_of "$svc" | tr ' ' ',')"
        if [[ -n "$pid" ]]; then
            state=up
            for port in $(ports_of "$svc"); do port_listening "$port" || state=starting; done
        else
            state=down
            pid=-
            for port in $(ports_of "$svc"); do
                port_listening "$port" && ports="$ports (port $port taken by $(port_owner "$port"))"
            done
        fi
        [[ "$state" == up ]] || rc=3
        printf '%-11s %-8s %-8s %s\n' "$svc" "$state" "$pid" "$ports"
    done
    printf 'home: %s  logs: %s\n' "$SP_HOME" "$LOG_DIR"
    if mountpoint -q "$CH_DIR/data" 2>/dev/null; then printf 'clickhouse data: journaled ext4 image %s\n' "$CH_IMAGE"; fi
    if [[ "$explicit" == yes ]]; then return "$rc"; fi
    return 0
}

cmd_clean() {
    local svc
    for svc in "$@"; do
        stop_service "$svc"
        case "$svc" in
            kafka) rm -rf "$KAFKA_DIR/data" "$KAFKA_DIR/server.properties" "$LOG_DIR/kafka.log" ;;
            clickhouse) rm -rf "$CH_DIR" "$LOG_DIR"/clickhouse.* ;;
            prometheus) rm -rf "$PROM_DIR" "$LOG_DIR/prometheus.log" ;;
        esac
        log "$svc: data and logs deleted"
    done
}

cmd_logs() {
    local files=() svc
    for svc in "$@"; do
        files+=("$(log_file_of "$svc")")
        [[ "$svc" == clickhouse ]] && files+=("$LOG_DIR/clickhouse.err.log" "$LOG_DIR/clickhouse.out")
    done
    for f in "${files[@]}"; do [[ -e "$f" ]] || { mkdir -p "$LOG_DIR"; touch "$f"; }; done
    exec tail -n 100 -F "${files[@]}"
}

main() {
    local cmd="${1:-}" svc
    [[ -n "$cmd" ]] || { usage; exit 2; }
    shift
    for svc in "$@"; do
        valid_service "$svc" || die "unknown service '$svc' (kafka, clickhouse, prometheus)"
    done
    case "$cmd" in
        install) with_lock; cmd_install ;;
        up | start)
            with_lock
            if (($# == 0)); then cmd_up "${DEFAULT_SERVICES[@]}"; else cmd_up "$@"; fi
            ;;
        down)
            with_lock
            if (($# == 0)); then cmd_down prometheus kafka clickhouse; else cmd_down "$@"; fi
            ;;
        stop)
            (($# > 0)) || die "stop needs a service: stop kafka|clickhouse|prometheus (or use down for all)"
            with_lock
            cmd_down "$@"
            ;;
        restart)
            (($# > 0)) || die "restart needs a service: restart kafka|clickhouse|prometheus"
            with_lock
            cmd_down "$@"
            cmd_up "$@"
            ;;
        status)
            if (($# == 0)); then cmd_status no "${ALL_SERVICES[@]}"; else cmd_status yes "$@"; fi
            ;;
        clean)
            with_lock
            if (($# == 0)); then cmd_clean prometheus kafka clickhouse; else cmd_clean "$@"; fi
            ;;
        logs)
            if (($# == 0)); then cmd_logs "${ALL_SERVICES[@]}"; else cmd_logs "$@"; fi
            ;;
        -h | --help | help) usage ;;
        *) usage >&2; die "unknown command '$cmd'" ;;
    esac
}

main "$@"
