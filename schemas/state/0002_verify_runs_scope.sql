-- cdc-verify: what a run compared when not the whole table (--where,
-- --column, --exclude-column); NULL: every row and column.
-- Only when missing: ALTER TABLE needs ownership even with IF NOT EXISTS,
-- and a schema from before migrations may already have the column (it was
-- added under version "1"). The schema name comes from the setting the
-- runner makes (a parameter, never spliced into the dollar quote).
DO $do$
BEGIN
    IF NOT EXISTS (
        SELECT 1
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_setting('cdc.state_schema')
          AND c.relname = 'verify_runs' AND a.attname = 'scope' AND NOT a.attisdropped)
    THEN
        EXECUTE format('ALTER TABLE %I.verify_runs ADD COLUMN scope text',
                       current_setting('cdc.state_schema'));
    END IF;
END
$do$;
