#!/usr/bin/env bash
# Installs (Debian packages) and starts what the optional tests use: PostgreSQL on 127.0.0.1:5432
# with role dse/dse and database dse_test, yosys and iverilog. Needs root and apt-get; idempotent.
set -euo pipefail
need=()
command -v yosys >/dev/null || need+=(yosys)
command -v iverilog >/dev/null || need+=(iverilog)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
    echo "test-services: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || true
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q .; then
    pg_createcluster "$version" main >/dev/null
fi
cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
pg_ctlcluster $cluster start 2>/dev/null || true   # already running is fine
for _ in $(seq 1 20); do
    su postgres -c "psql -tAc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.5
done
su postgres -c "psql -tAc \"select 1 from pg_roles where rolname='dse'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"create role dse login password 'dse'\""
su postgres -c "psql -tAc \"select 1 from pg_database where datname='dse_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O dse dse_test"
echo "test-services: postgresql://dse:dse@127.0.0.1:5432/dse_test, $(yosys -V | head -1), $(iverilog -V 2>&1 | head -1)"
