#!/usr/bin/env bash
# Installs (Debian packages) and starts what the service tests use: PostgreSQL on 127.0.0.1:5432
# with role dse/dse (CREATEDB: a test creates fresh databases) and database dse_test, yosys,
# iverilog, verilator and ghdl. Needs root and apt-get; idempotent. Exits non-zero when any of
# them is missing afterwards or the server does not answer (.ci/run then fails).
set -euo pipefail
need=()
command -v yosys >/dev/null || need+=(yosys)
command -v iverilog >/dev/null || need+=(iverilog)
command -v verilator >/dev/null || need+=(verilator)
command -v ghdl >/dev/null || need+=(ghdl)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    echo "test-services: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || true
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in yosys iverilog vvp verilator ghdl psql pg_lsclusters; do
    command -v "$tool" >/dev/null || { echo "test-services: $tool not found after installing" >&2; exit 1; }
done
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    pg_createcluster "$version" main >/dev/null
fi
cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
pg_ctlcluster $cluster start >/dev/null 2>&1 || true   # already running is fine; checked below
up=0
for _ in $(seq 1 20); do
    if su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
done
if [ "$up" != 1 ]; then
    echo "test-services: PostgreSQL cluster $cluster does not answer" >&2
    exit 1
fi
if su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='dse'\"" | grep -q 1; then
    su postgres -c "psql -qc \"alter role dse createdb\""
else
    su postgres -c "psql -qc \"create role dse login createdb password 'dse'\""
fi
su postgres -c "psql -tAc \"select 1 from pg_database where datname='dse_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O dse dse_test"
PGPASSWORD=dse psql -h 127.0.0.1 -p 5432 -U dse -d dse_test -tAc 'select 1' >/dev/null \
    || { echo "test-services: role dse/dse cannot log in to dse_test on 127.0.0.1:5432" >&2; exit 1; }
echo "test-services: postgresql://dse:dse@127.0.0.1:5432/dse_test ($(psql -V)), $(yosys -V | head -1)," \
     "$(iverilog -V 2>&1 | head -1), $(verilator --version | head -1), $(ghdl --version | head -1)"
