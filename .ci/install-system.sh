#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for socialpulse's local stack, idempotently:
#   - Debian packages: clickhouse-server, clickhouse-client (18.16), prometheus (+ promtool), kcat
#   - Java 17+ and Maven (preinstalled on this machine kind; installed from Debian if absent)
#   - the Kafka jars (deploy/local/stack.sh install: Maven Central, cached under .local/kafka/libs)
# Needs root (apt-get). Services are NOT started here: `make up` / deploy/local/stack.sh does that,
# on the project's own ports. Debian's own service instances (ports 9000/8123/9090/9100) are kept
# from starting during the install and stopped if they run anyway.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-system] %s\n' "$*"; }
die() { printf '[install-system] error: %s\n' "$*" >&2; exit 1; }

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

for pkg in clickhouse-server clickhouse-client prometheus kcat curl; do
    have_pkg "$pkg" || need_pkgs+=("$pkg")
done

java_major() {
    local java="${JAVA_HOME:+$JAVA_HOME/bin/}java" ver major
    command -v "$java" >/dev/null 2>&1 || { echo 0; return; }
    ver="$("$java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
    major="${ver%%.*}"
    [[ "$major" == 1 ]] && major="$(echo "$ver" | cut -d. -f2)"
    [[ "$major" =~ ^[0-9]+$ ]] && echo "$major" || echo 0
}
if (($(java_major) < 17)); then need_pkgs+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null 2>&1 || need_pkgs+=(maven)

if ((${#need_pkgs[@]} > 0)); then
    ((EUID == 0)) || die "needs root to apt-get install: ${need_pkgs[*]}"
    # Keep Debian's maintainer scripts from starting the packaged services (they would take the
    # default ports 9000/8123/9090/9100); policy-rc.d exit 101 = "action forbidden".
    created_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    trap '[[ -n "$created_policy" ]] && rm -f /usr/sbin/policy-rc.d' EXIT
    log "apt-get install ${need_pkgs[*]}"
    apt-get update -qq
    # --no-install-recommends: prometheus would otherwise pull in node-exporter and its timers.
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
else
    log "Debian packages present: clickhouse-server clickhouse-client prometheus kcat curl, java $(java_major), maven"
fi

# If a Debian-default instance runs anyway (a machine whose install did start it), stop exactly that
# process. NOT through /etc/init.d/*: their status/stop match any process of the same executable
# (start-stop-daemon --exec), so they would also kill socialpulse's own clickhouse-server/prometheus.
# A Debian default is recognised by its command line: the packaged config, or no project config at all.
stop_debian_default() { # stop_debian_default NAME
    local name="$1" exe proc pid cmd
    exe="$(readlink -f "$(command -v "$name" 2>/dev/null || echo /nonexistent)")"
    for proc in /proc/[0-9]*; do
        [[ "$(readlink -f "$proc/exe" 2>/dev/null)" == "$exe" ]] || continue
        pid="${proc#/proc/}"
        cmd="$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null || true)"
        case "$cmd" in
            *"/etc/clickhouse-server/"* | *"/etc/prometheus/"*) ;;                       # Debian's config
            *"--config-file="* | *"--config.file="* | *"--config="*) continue ;;          # someone's own
            *) ;;                                                                         # defaults
        esac
        log "stopping Debian's default $name (pid $pid: $cmd); socialpulse runs its own instance"
        kill -TERM "$pid" 2>/dev/null || true
    done
}
stop_debian_default clickhouse-server
stop_debian_default prometheus
if command -v ss >/dev/null 2>&1; then
    for port in 9000 8123 9090; do
        if [[ -n "$(ss -Hltn "sport = :$port")" ]]; then
            log "note: port $port is in use ($(ss -Hltnp "sport = :$port" | grep -o 'users:(([^)]*))' | head -n1)); socialpulse does not use it"
        fi
    done
fi

(($(java_major) >= 17)) || die "Java 17+ is still missing after the install"
command -v mvn >/dev/null 2>&1 || die "mvn is still missing after the install"
log "clickhouse-server $(dpkg-query -W -f='${Version}' clickhouse-server), prometheus $(dpkg-query -W -f='${Version}' prometheus), java $(java_major)"

"$REPO_DIR/deploy/local/stack.sh" install
log "done"
