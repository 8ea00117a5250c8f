-- Read-only access for BI tools (Grafana, Superset) with SQL access control (ClickHouse 20.5+).
-- On 18.16 (local stack) the same user lives in deploy/local/clickhouse/users.xml and these statements
-- are skipped. Mirrors users.xml: readonly = 2 (SELECT only; BI drivers may still set query settings,
-- bounded here by constraints), memory/time/result limits, an hourly quota.
-- Substitution `bi_password` (single-quote escaped): streams.trends.access.migration_substitutions()
-- reads SOCIALPULSE_CLICKHOUSE_BI_PASSWORD. Users, roles, profiles and quotas are server-wide; the
-- SELECT grant is per database, so migrating several databases grants each to the same role.

-- requires: 20.5
CREATE ROLE IF NOT EXISTS socialpulse_bi_reader;
-- requires: 20.5
GRANT SELECT ON {db}.* TO socialpulse_bi_reader;
-- requires: 20.5
CREATE SETTINGS PROFILE IF NOT EXISTS socialpulse_bi_profile SETTINGS
    readonly = 2,
    max_memory_usage = 2000000000 MAX 4000000000,
    max_execution_time = 60 MAX 300,
    max_result_rows = 1000000 MAX 1000000,
    result_overflow_mode = 'throw',
    max_rows_to_read = 1000000000 MAX 1000000000;
-- requires: 20.5
CREATE USER IF NOT EXISTS socialpulse_bi IDENTIFIED WITH sha256_password BY '{bi_password}'
    SETTINGS PROFILE 'socialpulse_bi_profile';
-- requires: 20.5
GRANT socialpulse_bi_reader TO socialpulse_bi;
-- requires: 20.5
CREATE QUOTA IF NOT EXISTS socialpulse_bi_quota
    FOR INTERVAL 1 hour MAX queries = 10000, errors = 1000, execution_time = 3600
    TO socialpulse_bi;
